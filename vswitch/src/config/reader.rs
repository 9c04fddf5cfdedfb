//! Typed reading of a parsed TOML table that remembers where it is: every value comes out with
//! its full key path (`bridge[0].port[1].devargs`) attached to any error, and keys a section does
//! not know are reported instead of ignored.

use std::collections::BTreeMap;
use std::fmt;

use toml::{Table, Value};

/// A problem with the value at one key path, e.g. `dpdk.memory_mb` / "must be at least 64".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyError {
    pub key: String,
    pub problem: String,
}

impl KeyError {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        KeyError { key: key.into(), problem: problem.into() }
    }

    /// The same error with its key moved below `prefix` (`devargs` -> `bridge[0].port[1].devargs`).
    pub fn within(self, prefix: &str) -> Self {
        KeyError { key: join_key(prefix, &self.key), problem: self.problem }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Unsigned integer types a key can be read as.
pub(super) trait Unsigned: TryFrom<i64> {
    const LARGEST: u64;
}

impl Unsigned for u16 {
    const LARGEST: u64 = u16::MAX as u64;
}

impl Unsigned for u32 {
    const LARGEST: u64 = u32::MAX as u64;
}

impl Unsigned for usize {
    const LARGEST: u64 = usize::MAX as u64;
}

/// One TOML table and the key path that leads to it (empty for the document root).
pub(super) struct Section<'a> {
    table: &'a Table,
    path: String,
}

impl<'a> Section<'a> {
    pub fn root(table: &'a Table) -> Self {
        Section { table, path: String::new() }
    }

    /// The key path of this section, e.g. `bridge[0].port[1]`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn error(&self, key: &str, problem: impl Into<String>) -> KeyError {
        KeyError::new(join_key(&self.path, key), problem)
    }

    /// Fails on the first key of this section that is not in `known`.
    pub fn reject_unknown_keys(&self, known: &[&str]) -> Result<(), KeyError> {
        match self.table.keys().find(|key| !known.contains(&key.as_str())) {
            Some(key) => Err(self.error(key, format!("unknown key; expected one of: {}", known.join(", ")))),
            None => Ok(()),
        }
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, KeyError> {
        self.value(key).map(|value| as_string(value).map_err(|problem| self.error(key, problem))).transpose()
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, KeyError> {
        self.value(key)
            .map(|value| match value {
                Value::Boolean(flag) => Ok(*flag),
                other => Err(self.error(key, expected("true or false", other))),
            })
            .transpose()
    }

    pub fn unsigned<T: Unsigned>(&self, key: &str) -> Result<Option<T>, KeyError> {
        self.value(key).map(|value| as_unsigned(value).map_err(|problem| self.error(key, problem))).transpose()
    }

    /// An array of strings; an element's error names it as `key[i]`.
    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, KeyError> {
        self.list(key, as_string)
    }

    /// An array of unsigned integers; an element's error names it as `key[i]`.
    pub fn unsigned_list<T: Unsigned>(&self, key: &str) -> Result<Option<Vec<T>>, KeyError> {
        self.list(key, as_unsigned)
    }

    /// A table of scalars (`options = { remote_ip = "10.0.0.2", key = 5 }`) as strings, the way
    /// Open vSwitch's option columns hold them: a string stays, an integer or boolean is written
    /// out; a nested table or array is an error naming `key.name`.
    pub fn scalar_map(&self, key: &str) -> Result<Option<BTreeMap<String, String>>, KeyError> {
        let Some(section) = self.section(key)? else {
            return Ok(None);
        };
        let mut map = BTreeMap::new();
        for (name, value) in section.table {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Integer(number) => number.to_string(),
                Value::Boolean(flag) => flag.to_string(),
                other => return Err(section.error(name, expected("a string, integer or boolean", other))),
            };
            map.insert(name.clone(), text);
        }
        Ok(Some(map))
    }

    /// A sub-table such as `[dpdk]`.
    pub fn section(&self, key: &str) -> Result<Option<Section<'a>>, KeyError> {
        self.value(key)
            .map(|value| match value {
                Value::Table(table) => Ok(Section { table, path: join_key(&self.path, key) }),
                other => Err(self.error(key, expected(&format!("a [{key}] table"), other))),
            })
            .transpose()
    }

    /// An array of tables such as `[[bridge]]`, each named `key[i]`; empty when the key is absent.
    /// `header` is how the operator writes one (`[[bridge.port]]`), for the error message.
    pub fn sections(&self, key: &str, header: &str) -> Result<Vec<Section<'a>>, KeyError> {
        let Some(value) = self.value(key) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = value else {
            return Err(self.error(key, expected(&format!("an array of tables (write {header})"), value)));
        };
        let key_path = join_key(&self.path, key);
        items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let path = format!("{key_path}[{index}]");
                match item {
                    Value::Table(table) => Ok(Section { table, path }),
                    other => Err(KeyError::new(path, expected(&format!("a table (write {header})"), other))),
                }
            })
            .collect()
    }

    fn value(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    fn list<T>(&self, key: &str, convert: impl Fn(&Value) -> Result<T, String>) -> Result<Option<Vec<T>>, KeyError> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let Value::Array(items) = value else {
            return Err(self.error(key, expected("an array", value)));
        };
        items
            .iter()
            .enumerate()
            .map(|(index, item)| convert(item).map_err(|problem| self.error(&format!("{key}[{index}]"), problem)))
            .collect::<Result<Vec<T>, KeyError>>()
            .map(Some)
    }
}

fn as_string(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        other => Err(expected("a string", other)),
    }
}

fn as_unsigned<T: Unsigned>(value: &Value) -> Result<T, String> {
    match value {
        Value::Integer(number) => {
            T::try_from(*number).map_err(|_| format!("{number} is out of range; expected 0..={}", T::LARGEST))
        }
        other => Err(expected("a non-negative integer", other)),
    }
}

fn expected(what: &str, found: &Value) -> String {
    let found = match found {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    };
    format!("expected {what}, found {found}")
}
