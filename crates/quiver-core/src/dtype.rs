//! Value types a feature or join key can declare.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A scalar type; lists nest one level (`list<int64>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    Bool,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bytes,
    Timestamp,
}

/// The declared type of a feature or a join key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Scalar(ScalarType),
    List(ScalarType),
}

const SCALARS: [(&str, ScalarType); 8] = [
    ("bool", ScalarType::Bool),
    ("int32", ScalarType::Int32),
    ("int64", ScalarType::Int64),
    ("float32", ScalarType::Float32),
    ("float64", ScalarType::Float64),
    ("string", ScalarType::String),
    ("bytes", ScalarType::Bytes),
    ("timestamp", ScalarType::Timestamp),
];

/// The spellings accepted in definitions, for error messages.
pub const VALUE_TYPE_NAMES: &str =
    "bool, int32, int64, float32, float64, string, bytes, timestamp, or list<T> of one of these";

impl ScalarType {
    pub fn name(self) -> &'static str {
        SCALARS
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

impl FromStr for ScalarType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SCALARS
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("unknown dtype `{s}` (expected {VALUE_TYPE_NAMES})"))
    }
}

impl ValueType {
    /// Types that can identify an entity: exact, hashable, and stable as text.
    pub fn is_valid_join_key(self) -> bool {
        matches!(
            self,
            ValueType::Scalar(
                ScalarType::Int32 | ScalarType::Int64 | ScalarType::String | ScalarType::Bytes
            )
        )
    }
}

impl FromStr for ValueType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if let Some(inner) = trimmed
            .strip_prefix("list<")
            .and_then(|rest| rest.strip_suffix('>'))
        {
            let inner = inner.trim();
            if inner.starts_with("list<") {
                return Err(format!("nested lists are not supported: `{s}`"));
            }
            return inner
                .parse::<ScalarType>()
                .map(ValueType::List)
                .map_err(|_| format!("unknown dtype `{s}` (expected {VALUE_TYPE_NAMES})"));
        }
        trimmed
            .parse::<ScalarType>()
            .map(ValueType::Scalar)
            .map_err(|_| format!("unknown dtype `{s}` (expected {VALUE_TYPE_NAMES})"))
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Scalar(t) => f.write_str(t.name()),
            ValueType::List(t) => write!(f, "list<{}>", t.name()),
        }
    }
}

impl Serialize for ValueType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ValueType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling_and_round_trips() {
        for (name, _) in SCALARS {
            let scalar: ValueType = name.parse().unwrap();
            assert_eq!(scalar.to_string(), name);
            let list: ValueType = format!("list<{name}>").parse().unwrap();
            assert_eq!(list.to_string(), format!("list<{name}>"));
        }
    }

    #[test]
    fn rejects_unknown_and_nested() {
        assert!(
            "float23"
                .parse::<ValueType>()
                .unwrap_err()
                .contains("unknown dtype `float23`")
        );
        assert!(
            "list<list<int64>>"
                .parse::<ValueType>()
                .unwrap_err()
                .contains("nested")
        );
        assert!("list<int64".parse::<ValueType>().is_err());
    }

    #[test]
    fn join_key_types() {
        assert!("int64".parse::<ValueType>().unwrap().is_valid_join_key());
        assert!("string".parse::<ValueType>().unwrap().is_valid_join_key());
        assert!(!"float64".parse::<ValueType>().unwrap().is_valid_join_key());
        assert!(
            !"list<int64>"
                .parse::<ValueType>()
                .unwrap()
                .is_valid_join_key()
        );
    }
}
