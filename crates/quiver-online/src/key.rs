//! Entity keys: a view's join keys and their values in one canonical form.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::codec::{self, put_varint};
use crate::error::{OnlineError, Result};
use crate::value::Value;

/// An entity key: the view's join keys and their values, canonically ordered by key
/// name.
///
/// Two keys are equal exactly when their [`as_bytes`](Self::as_bytes) encodings are.
/// Integer values are normalized to `Int64`, so a join key read as `int32` from a
/// Parquet file and the same number sent as JSON address the same entity; strings
/// and bytes stay distinct from numbers and from each other.
#[derive(Debug, Clone)]
pub struct EntityKey {
    pairs: Vec<(String, Value)>,
    bytes: Vec<u8>,
}

impl EntityKey {
    /// Builds a key from `(join key name, value)` pairs in any order.
    ///
    /// Values must be `Int32`, `Int64`, `String` or `Bytes`; names must be
    /// non-empty and distinct; at least one pair is required.
    pub fn new(pairs: Vec<(String, Value)>) -> Result<Self> {
        if pairs.is_empty() {
            return Err(OnlineError::Invalid(
                "an entity key needs at least one join key".to_string(),
            ));
        }
        let mut pairs = pairs
            .into_iter()
            .map(|(name, value)| normalize(&name, value).map(|value| (name, value)))
            .collect::<Result<Vec<_>>>()?;
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, _) in &pairs {
            if name.is_empty() {
                return Err(OnlineError::Invalid("a join key name is empty".to_string()));
            }
        }
        if let Some(dup) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(OnlineError::Invalid(format!(
                "join key `{}` is given twice",
                dup[0].0
            )));
        }
        let mut bytes = Vec::with_capacity(16 * pairs.len());
        put_varint(&mut bytes, pairs.len() as u64);
        for (name, value) in &pairs {
            put_varint(&mut bytes, name.len() as u64);
            bytes.extend_from_slice(name.as_bytes());
            codec::encode(value, &mut bytes);
        }
        Ok(EntityKey { pairs, bytes })
    }

    /// A key with a single join key.
    pub fn single(name: impl Into<String>, value: Value) -> Result<Self> {
        Self::new(vec![(name.into(), value)])
    }

    /// The stable encoding: a varint pair count, then per pair (sorted by name) a
    /// varint name length, the name, and the value's [`codec`](crate::codec)
    /// encoding. It is self-delimiting: no key's encoding is a prefix of another's.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `(name, value)` pairs, sorted by name, integers as `Int64`.
    pub fn pairs(&self) -> &[(String, Value)] {
        &self.pairs
    }
}

fn normalize(name: &str, value: Value) -> Result<Value> {
    match value {
        Value::Int32(v) => Ok(Value::Int64(i64::from(v))),
        v @ (Value::Int64(_) | Value::String(_) | Value::Bytes(_)) => Ok(v),
        other => Err(OnlineError::Invalid(format!(
            "join key `{name}` has a {} value; join keys must be int32, int64, string or bytes",
            other.kind()
        ))),
    }
}

impl PartialEq for EntityKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for EntityKey {}

impl Hash for EntityKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, Value)]) -> Result<EntityKey> {
        EntityKey::new(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn order_of_pairs_does_not_matter() {
        let a = key(&[("b", Value::String("x".into())), ("a", Value::Int64(1))]);
        let b = key(&[("a", Value::Int64(1)), ("b", Value::String("x".into()))]);
        assert_eq!(a.ok(), b.ok());
    }

    #[test]
    fn integers_are_normalized_but_strings_differ() {
        let i32k = key(&[("id", Value::Int32(7))]).ok();
        let i64k = key(&[("id", Value::Int64(7))]).ok();
        let strk = key(&[("id", Value::String("7".into()))]).ok();
        assert_eq!(i32k, i64k);
        assert_ne!(i64k, strk);
    }

    #[test]
    fn rejects_bad_keys() {
        for bad in [
            key(&[]),
            key(&[("a", Value::Float64(1.0))]),
            key(&[("a", Value::Null)]),
            key(&[("a", Value::Int64(1)), ("a", Value::Int64(2))]),
            key(&[("", Value::Int64(1))]),
        ] {
            assert!(matches!(bad, Err(OnlineError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn encoding_is_prefix_free() {
        let short = key(&[("a", Value::String("x".into()))]).ok();
        let long = key(&[("a", Value::String("xy".into()))]).ok();
        let (Some(short), Some(long)) = (short, long) else {
            panic!("keys should build");
        };
        assert!(!long.as_bytes().starts_with(short.as_bytes()));
    }
}
