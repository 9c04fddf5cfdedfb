//! The lexical layer of ovs-ofctl flow text: items `key`, `key=value`, `key:value` and
//! `key(value)`, separated by commas and/or whitespace (ovs-ofctl accepts both), with
//! parentheses grouping (`learn(a,b)` is one item), and whitespace allowed around `=` and `:`.
//! Also the parse error every flow parser returns: the offending token and why.

use std::fmt;

/// Why a flow text was rejected: the offending token as written and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowParseError {
    token: String,
    problem: String,
}

impl FlowParseError {
    pub(crate) fn new(token: &str, problem: impl Into<String>) -> Self {
        FlowParseError { token: token.trim().to_string(), problem: problem.into() }
    }

    /// The token as written (empty when the problem is the text as a whole).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Why it was rejected.
    #[cfg(test)]
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for FlowParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.token.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.token, self.problem)
        }
    }
}

impl std::error::Error for FlowParseError {}

/// How an item's key is joined to its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delimiter {
    /// A bare key (`tcp`, `drop`, `2`).
    None,
    Equals,
    Colon,
    /// `key(value)`; the value is what is inside the parentheses.
    Paren,
}

/// One item of flow text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    pub key: &'a str,
    pub delimiter: Delimiter,
    /// Empty for a bare key.
    pub value: &'a str,
    /// The item as written, for error messages.
    pub text: &'a str,
    /// Where the value starts in the scanned text (`actions=` takes everything from there).
    pub value_start: usize,
}

/// The items of a text, in order.
pub(crate) struct Items<'a> {
    text: &'a str,
    position: usize,
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_separator(byte: u8) -> bool {
    byte == b',' || is_space(byte)
}

impl<'a> Items<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Items { text, position: 0 }
    }

    /// The end of a value that starts at `start`: the next separator outside parentheses.
    fn value_end(&self, start: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut position = start;
        let mut depth = 0usize;
        while let Some(&byte) = bytes.get(position) {
            match byte {
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                _ if depth == 0 && is_separator(byte) => break,
                _ => {}
            }
            position += 1;
        }
        position
    }

    /// The position of the `)` that closes a `(` just before `start`, if any.
    fn closing_paren(&self, start: usize) -> Option<usize> {
        let mut depth = 1usize;
        for (offset, byte) in self.text.as_bytes()[start..].iter().enumerate() {
            match byte {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(start + offset);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, FlowParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut position = self.position;
        while bytes.get(position).is_some_and(|&b| is_separator(b)) {
            position += 1;
        }
        if position >= bytes.len() {
            self.position = bytes.len();
            return None;
        }
        let key_start = position;
        while bytes.get(position).is_some_and(|&b| !is_separator(b) && !matches!(b, b'=' | b':' | b'(')) {
            position += 1;
        }
        let key = &text[key_start..position];
        let mut after_spaces = position;
        while bytes.get(after_spaces).is_some_and(|&b| is_space(b)) {
            after_spaces += 1;
        }
        let delimiter = match bytes.get(after_spaces) {
            Some(b'=') => Delimiter::Equals,
            Some(b':') => Delimiter::Colon,
            Some(b'(') if after_spaces == position => Delimiter::Paren,
            _ => Delimiter::None,
        };
        let item = match delimiter {
            Delimiter::None => Item { key, delimiter, value: "", text: key, value_start: position },
            Delimiter::Equals | Delimiter::Colon => {
                let mut value_start = after_spaces + 1;
                while bytes.get(value_start).is_some_and(|&b| is_space(b)) {
                    value_start += 1;
                }
                position = self.value_end(value_start);
                let value = &text[value_start..position];
                Item { key, delimiter, value, text: &text[key_start..position], value_start }
            }
            Delimiter::Paren => {
                let value_start = position + 1;
                let Some(close) = self.closing_paren(value_start) else {
                    self.position = bytes.len();
                    return Some(Err(FlowParseError::new(&text[key_start..], "missing ')'")));
                };
                position = close + 1;
                let value = &text[value_start..close];
                Item { key, delimiter, value, text: &text[key_start..position], value_start }
            }
        };
        self.position = position;
        Some(Ok(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<(&str, Delimiter, &str, &str)> {
        Items::new(text).map(|item| item.unwrap()).map(|i| (i.key, i.delimiter, i.value, i.text)).collect()
    }

    #[test]
    fn commas_and_whitespace_separate() {
        assert_eq!(
            items("priority=1 in_port=1,tcp\t table:2"),
            vec![
                ("priority", Delimiter::Equals, "1", "priority=1"),
                ("in_port", Delimiter::Equals, "1", "in_port=1"),
                ("tcp", Delimiter::None, "", "tcp"),
                ("table", Delimiter::Colon, "2", "table:2"),
            ]
        );
        assert_eq!(items(" , ,\n"), vec![]);
        assert_eq!(items(""), vec![]);
    }

    #[test]
    fn whitespace_around_delimiters_is_allowed() {
        assert_eq!(
            items("priority = 10 , output : 2"),
            vec![
                ("priority", Delimiter::Equals, "10", "priority = 10"),
                ("output", Delimiter::Colon, "2", "output : 2"),
            ]
        );
        assert_eq!(items("in_port= 1"), vec![("in_port", Delimiter::Equals, "1", "in_port= 1")]);
    }

    #[test]
    fn parentheses_group() {
        assert_eq!(
            items("resubmit(,1),learn(table=2,output:NXM_OF_IN_PORT[]) controller(reason=no_match)"),
            vec![
                ("resubmit", Delimiter::Paren, ",1", "resubmit(,1)"),
                (
                    "learn",
                    Delimiter::Paren,
                    "table=2,output:NXM_OF_IN_PORT[]",
                    "learn(table=2,output:NXM_OF_IN_PORT[])"
                ),
                ("controller", Delimiter::Paren, "reason=no_match", "controller(reason=no_match)"),
            ]
        );
        assert_eq!(
            items("write_actions(set_field:1->reg0,group(1)),x"),
            vec![
                (
                    "write_actions",
                    Delimiter::Paren,
                    "set_field:1->reg0,group(1)",
                    "write_actions(set_field:1->reg0,group(1))"
                ),
                ("x", Delimiter::None, "", "x"),
            ]
        );
        assert_eq!(items("a=f(x,y)"), vec![("a", Delimiter::Equals, "f(x,y)", "a=f(x,y)")]);
        assert_eq!(items("set_field:00:11:22:33:44:55->dl_src")[0].2, "00:11:22:33:44:55->dl_src");
    }

    #[test]
    fn unbalanced_parenthesis_is_an_error() {
        let errors: Vec<_> = Items::new("in_port=1,learn(table=1").collect();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].clone().unwrap_err().to_string(), "learn(table=1: missing ')'");
        assert_eq!(items("a=(b c"), vec![("a", Delimiter::Equals, "(b c", "a=(b c")]);
    }

    #[test]
    fn value_start_points_into_the_text() {
        let text = "priority=1, actions = output:1,2";
        let item = Items::new(text).nth(1).unwrap().unwrap();
        assert_eq!(item.key, "actions");
        assert_eq!(&text[item.value_start..], "output:1,2");
    }

    #[test]
    fn errors_show_token_and_problem() {
        let error = FlowParseError::new(" nw_src=1 ", "bad");
        assert_eq!(error.token(), "nw_src=1");
        assert_eq!(error.problem(), "bad");
        assert_eq!(error.to_string(), "nw_src=1: bad");
        assert_eq!(FlowParseError::new("", "empty").to_string(), "empty");
    }
}
