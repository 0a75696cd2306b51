//! The embedded store's record: one (entity, view) row in one value.
//!
//! Layout: format byte `1`; event µs (i64 LE); created flag (0/1) and, when 1,
//! created µs (i64 LE); varint feature count; per feature a varint name length,
//! the name, and the value's [`codec`](crate::codec) encoding. Names are stored so
//! reads find features by name whatever order a later view definition lists them in.

use std::collections::HashMap;

use crate::codec::{self, Reader, put_varint};
use crate::error::{OnlineError, Result};
use crate::value::Value;

const FORMAT: u8 = 1;

/// Encodes a row.
pub(crate) fn encode(
    event_ts: i64,
    created_ts: Option<i64>,
    features: &[String],
    values: &[Value],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + 16 * features.len());
    out.push(FORMAT);
    out.extend_from_slice(&event_ts.to_le_bytes());
    match created_ts {
        Some(c) => {
            out.push(1);
            out.extend_from_slice(&c.to_le_bytes());
        }
        None => out.push(0),
    }
    put_varint(&mut out, features.len() as u64);
    for (name, value) in features.iter().zip(values) {
        put_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        codec::encode(value, &mut out);
    }
    out
}

fn header<'a>(bytes: &'a [u8]) -> Result<(Reader<'a>, i64, Option<i64>)> {
    let mut r = Reader::new(bytes);
    let format = r.byte().map_err(corrupt)?;
    if format != FORMAT {
        return Err(OnlineError::Corrupt(format!(
            "embedded row format {format} is not {FORMAT} (written by a newer quiver?)"
        )));
    }
    let event = r.i64().map_err(corrupt)?;
    let created = match r.byte().map_err(corrupt)? {
        0 => None,
        1 => Some(r.i64().map_err(corrupt)?),
        b => {
            return Err(OnlineError::Corrupt(format!(
                "embedded row created flag {b} is neither 0 nor 1"
            )));
        }
    };
    Ok((r, event, created))
}

/// The stored (event, created) pair, without decoding values.
pub(crate) fn version(bytes: &[u8]) -> Result<(i64, Option<i64>)> {
    header(bytes).map(|(_, event, created)| (event, created))
}

/// The event time and the requested features' values (`Null` for names the row
/// does not have).
pub(crate) fn decode(bytes: &[u8], wanted: &[String]) -> Result<(i64, Vec<Value>)> {
    let (mut r, event, _) = header(bytes)?;
    let count = r.len().map_err(corrupt)?;
    let mut stored: HashMap<&str, Value> = HashMap::with_capacity(count);
    for _ in 0..count {
        let name = r.str().map_err(corrupt)?;
        let value = r.value().map_err(corrupt)?;
        stored.insert(name, value);
    }
    r.finish().map_err(corrupt)?;
    let values = wanted
        .iter()
        .map(|f| stored.remove(f.as_str()).unwrap_or(Value::Null))
        .collect();
    Ok((event, values))
}

fn corrupt(e: OnlineError) -> OnlineError {
    match e {
        OnlineError::Corrupt(m) => OnlineError::Corrupt(format!("embedded row: {m}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_by_name() {
        let features = vec!["a".to_string(), "b".to_string()];
        let bytes = encode(
            7,
            Some(9),
            &features,
            &[Value::Int64(1), Value::List(vec![Value::Null])],
        );
        assert_eq!(version(&bytes).ok(), Some((7, Some(9))));
        let wanted = vec!["b".to_string(), "missing".to_string(), "a".to_string()];
        let (event, values) = decode(&bytes, &wanted).unwrap_or((0, Vec::new()));
        assert_eq!(event, 7);
        assert_eq!(
            values,
            vec![Value::List(vec![Value::Null]), Value::Null, Value::Int64(1)]
        );
        assert!(matches!(
            decode(&bytes[..5], &wanted),
            Err(OnlineError::Corrupt(_))
        ));
    }
}
