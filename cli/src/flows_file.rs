//! The FILE of `vsctl add-flows`, read the way ovs-ofctl reads it: one rule per line,
//! everything from `#` to the end of a line is a comment, lines left blank are skipped;
//! `-` is standard input.
//!
//! The rules are not parsed here: vswitchd checks them all and applies all or none.
//! It names a rule it refuses by its position in the request (`flow 2: ...`), which
//! is not its line in the file once comments and blank lines are gone, so vsctl keeps
//! the line of every rule and reports a refusal as ovs-ofctl does: `FILE:LINE: ...`
//! (and the one rule of `add-flow` without a position).
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The FILE argument that means standard input (as for ovs-ofctl).
const STDIN: &str = "-";
/// How vswitchd's refusal of add-flows begins: `flow N: ` with N counting the rules
/// of the request from 1.
const REFUSED_FLOW_PREFIX: &str = "flow ";

/// The rules of a flows file and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowsFile {
    /// The rules, in file order, without comments and surrounding whitespace.
    pub rules: Vec<String>,
    pub origin: FlowsOrigin,
}

/// Where the rules of an add-flows request were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowsOrigin {
    /// The one rule of `add-flow`, on the command line.
    CommandLine,
    /// The rules of `add-flows`: the FILE argument (`-` for standard input) and
    /// the line, counted from 1, of each rule.
    File { file: PathBuf, lines: Vec<usize> },
}

impl FlowsOrigin {
    /// vswitchd's refusal `flow N: why` said where the rule was written: `FILE:LINE: why`
    /// for a file, `why` for the command line. Any other error (no such bridge, ...)
    /// is kept as it is.
    pub fn locate(&self, error: String) -> String {
        let located = error.strip_prefix(REFUSED_FLOW_PREFIX).and_then(|rest| {
            let (position, why) = rest.split_once(": ")?;
            let index = position.parse::<usize>().ok()?.checked_sub(1)?;
            match self {
                FlowsOrigin::CommandLine => (index == 0).then(|| why.to_string()),
                FlowsOrigin::File { file, lines } => {
                    let line = lines.get(index)?;
                    Some(format!("{}:{line}: {why}", file_name(file)))
                }
            }
        });
        located.unwrap_or(error)
    }
}

fn file_name(file: &Path) -> String {
    if file == Path::new(STDIN) {
        "(standard input)".to_string()
    } else {
        file.display().to_string()
    }
}

/// Why the rules could not be read. `Display` names the file.
#[derive(Debug)]
pub struct ReadError {
    file: PathBuf,
    source: io::Error,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file == Path::new(STDIN) {
            write!(f, "cannot read flows from standard input: {}", self.source)
        } else {
            write!(f, "cannot read flows file '{}': {}", self.file.display(), self.source)
        }
    }
}

impl std::error::Error for ReadError {}

/// The rules in `file` (standard input, from `stdin`, when it is `-`).
pub fn read_flows(file: &Path, stdin: impl Read) -> Result<FlowsFile, ReadError> {
    let text = if file == Path::new(STDIN) { read_all(stdin) } else { fs::read_to_string(file) };
    let text = text.map_err(|source| ReadError { file: file.to_path_buf(), source })?;
    let (lines, rules) = flow_lines(&text).into_iter().unzip();
    Ok(FlowsFile { rules, origin: FlowsOrigin::File { file: file.to_path_buf(), lines } })
}

fn read_all(mut reader: impl Read) -> io::Result<String> {
    let mut text = String::new();
    reader.read_to_string(&mut text)?;
    Ok(text)
}

/// The rules of a flows file's text with their line numbers (from 1): each line
/// without its comment and surrounding whitespace, blank ones left out.
fn flow_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.split_once('#').map_or(line, |(rule, _comment)| rule).trim()))
        .filter(|(_, rule)| !rule.is_empty())
        .map(|(line, rule)| (line, rule.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::scratch_dir;

    #[test]
    fn comments_and_blank_lines_are_dropped() {
        let text = "\
# the uplink
priority=10,in_port=1,actions=output:2

  in_port=2 actions=output:1   # back
\t
#priority=1,actions=drop
table=1, priority=0 actions=drop\r
last-line-without-newline";
        assert_eq!(
            flow_lines(text),
            [
                (2, "priority=10,in_port=1,actions=output:2".to_string()),
                (4, "in_port=2 actions=output:1".to_string()),
                (7, "table=1, priority=0 actions=drop".to_string()),
                (8, "last-line-without-newline".to_string()),
            ]
        );
        assert!(flow_lines("").is_empty());
        assert!(flow_lines("\n# nothing but comments\n   \n").is_empty());
    }

    #[test]
    fn reads_a_file() {
        let dir = scratch_dir("flows-file-read");
        let file = dir.join("br0.flows");
        fs::write(&file, "in_port=1,actions=2\n# comment\nin_port=2,actions=1\n").unwrap();
        let flows = read_flows(&file, io::empty()).unwrap();
        assert_eq!(flows.rules, ["in_port=1,actions=2", "in_port=2,actions=1"]);
        assert_eq!(flows.origin, FlowsOrigin::File { file: file.clone(), lines: vec![1, 3] });
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn dash_reads_standard_input() {
        let flows = read_flows(Path::new("-"), "\nin_port=1 actions=drop # no\n\n".as_bytes()).unwrap();
        assert_eq!(flows.rules, ["in_port=1 actions=drop"]);
        assert_eq!(flows.origin, FlowsOrigin::File { file: PathBuf::from("-"), lines: vec![2] });
    }

    #[test]
    fn refusals_of_a_rule_name_its_file_and_line() {
        let origin = FlowsOrigin::File { file: PathBuf::from("/etc/vswitch/br0.flows"), lines: vec![3, 4, 9] };
        assert_eq!(
            origin.locate("flow 3: in_port=abc: not a port number".to_string()),
            "/etc/vswitch/br0.flows:9: in_port=abc: not a port number"
        );
        assert_eq!(origin.locate("flow 1: x: y".to_string()), "/etc/vswitch/br0.flows:3: x: y");
        for kept in [
            "no bridge named \"br9\"",
            "flow 0: out of range",
            "flow 4: out of range",
            "flow x: not a number",
            "flow 2 without a colon",
            "flows 2: other words",
            "",
        ] {
            assert_eq!(origin.locate(kept.to_string()), kept);
        }
        let stdin = FlowsOrigin::File { file: PathBuf::from("-"), lines: vec![2] };
        assert_eq!(stdin.locate("flow 1: bad".to_string()), "(standard input):2: bad");
    }

    #[test]
    fn refusal_of_the_command_line_rule_is_just_why() {
        let origin = FlowsOrigin::CommandLine;
        assert_eq!(origin.locate("flow 1: tp_dst=80: needs tcp".to_string()), "tp_dst=80: needs tcp");
        for kept in ["flow 2: not ours", "no bridge named \"br9\"", "flow 1 no colon"] {
            assert_eq!(origin.locate(kept.to_string()), kept);
        }
    }

    #[test]
    fn errors_name_the_file() {
        let dir = scratch_dir("flows-file-errors");
        let missing = dir.join("missing.flows");
        let error = read_flows(&missing, io::empty()).unwrap_err();
        assert_eq!(error.to_string(), format!("cannot read flows file '{}': {}", missing.display(), error.source));
        assert_eq!(error.source.kind(), io::ErrorKind::NotFound);

        let error = read_flows(&dir, io::empty()).unwrap_err();
        assert!(error.to_string().starts_with(&format!("cannot read flows file '{}': ", dir.display())), "{error}");

        let binary = dir.join("binary.flows");
        fs::write(&binary, b"in_port=1,actions=drop\n\xff\xfe\n").unwrap();
        let error = read_flows(&binary, io::empty()).unwrap_err();
        assert_eq!(error.source.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().starts_with(&format!("cannot read flows file '{}': ", binary.display())), "{error}");

        let error = read_flows(Path::new("-"), &b"\xff"[..]).unwrap_err();
        assert!(error.to_string().starts_with("cannot read flows from standard input: "), "{error}");
        let _ = fs::remove_dir_all(dir);
    }
}
