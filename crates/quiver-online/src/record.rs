//! The online record: one view's row for one entity in one value, the same in
//! both stores (a Redis hash field, a redb value).
//!
//! Format 2 (written):
//!
//! | bytes | content |
//! |---|---|
//! | 1 | format `2` |
//! | 8 | event µs, i64 LE |
//! | 1 (+8) | created flag 0/1, then created µs (i64 LE) when 1 |
//! | varint + n | the names block: its byte length, then a varint count and per feature a varint name length and the name |
//! | … | one [`codec`](crate::codec) value per name, in order |
//!
//! The header has a fixed shape so the Redis guard script reads the times
//! without decoding the rest. Names are kept so a record stays readable whatever
//! the view's later definition lists; the names block is contiguous so a reader
//! recognizes a block it has already mapped by comparing bytes, and then reads
//! the values by position.
//!
//! Format 1 (read only; embedded stores written before format 2): the same
//! header, then a varint count and per feature the name and its value.

use std::collections::HashMap;

use crate::codec::{self, Reader, put_varint};
use crate::error::{OnlineError, Result};
use crate::value::Value;

const FORMAT_INTERLEAVED: u8 = 1;
const FORMAT: u8 = 2;

/// Encodes the records of one view: the names block is built once.
pub(crate) struct RecordWriter {
    names_block: Vec<u8>,
    features: usize,
}

impl RecordWriter {
    pub(crate) fn new(features: &[String]) -> Self {
        let mut block = Vec::with_capacity(1 + features.iter().map(|f| f.len() + 1).sum::<usize>());
        put_varint(&mut block, features.len() as u64);
        for name in features {
            put_varint(&mut block, name.len() as u64);
            block.extend_from_slice(name.as_bytes());
        }
        let mut names_block = Vec::with_capacity(block.len() + 3);
        put_varint(&mut names_block, block.len() as u64);
        names_block.extend_from_slice(&block);
        RecordWriter {
            names_block,
            features: features.len(),
        }
    }

    /// The record of one row; `values` are in the order of the features given to
    /// [`RecordWriter::new`].
    pub(crate) fn encode(
        &self,
        event_ts: i64,
        created_ts: Option<i64>,
        values: &[Value],
    ) -> Vec<u8> {
        debug_assert_eq!(values.len(), self.features);
        let mut out = Vec::with_capacity(18 + self.names_block.len() + 10 * values.len());
        out.push(FORMAT);
        out.extend_from_slice(&event_ts.to_le_bytes());
        match created_ts {
            Some(c) => {
                out.push(1);
                out.extend_from_slice(&c.to_le_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.names_block);
        for value in values {
            codec::encode(value, &mut out);
        }
        out
    }
}

/// The format byte and the (event, created) pair, and a reader after them.
fn header(bytes: &[u8]) -> Result<(u8, i64, Option<i64>, Reader<'_>)> {
    let mut r = Reader::new(bytes);
    let format = r.byte().map_err(corrupt)?;
    if format != FORMAT && format != FORMAT_INTERLEAVED {
        return Err(OnlineError::Corrupt(format!(
            "online record format {format} is unknown (written by a newer quiver?)"
        )));
    }
    let event = r.i64().map_err(corrupt)?;
    let created = match r.byte().map_err(corrupt)? {
        0 => None,
        1 => Some(r.i64().map_err(corrupt)?),
        b => {
            return Err(OnlineError::Corrupt(format!(
                "online record created flag {b} is neither 0 nor 1"
            )));
        }
    };
    Ok((format, event, created, r))
}

/// The stored (event, created) pair, without decoding values.
pub(crate) fn version(bytes: &[u8]) -> Result<(i64, Option<i64>)> {
    header(bytes).map(|(_, event, created, _)| (event, created))
}

/// Reads the wanted features out of many records of one view. The mapping from
/// a names block to wanted positions is kept, so records written under the same
/// definition (nearly all of them) are read by position.
pub(crate) struct RecordReader<'w> {
    wanted: &'w [String],
    index: HashMap<&'w str, usize>,
    /// The last names block seen, and for each stored position the wanted one.
    block: Vec<u8>,
    positions: Vec<Option<usize>>,
}

impl<'w> RecordReader<'w> {
    pub(crate) fn new(wanted: &'w [String]) -> Self {
        RecordReader {
            wanted,
            index: wanted
                .iter()
                .enumerate()
                .map(|(i, f)| (f.as_str(), i))
                .collect(),
            block: Vec::new(),
            positions: Vec::new(),
        }
    }

    /// The wanted features' values (`Null` for names the record does not have).
    pub(crate) fn values(&mut self, bytes: &[u8]) -> Result<Vec<Value>> {
        let (format, _, _, mut r) = header(bytes)?;
        if format == FORMAT_INTERLEAVED {
            return self.values_interleaved(r);
        }
        let block_len = r.len().map_err(corrupt)?;
        let block = r.take(block_len).map_err(corrupt)?;
        if block != self.block.as_slice() {
            self.map_block(block)?;
        }
        let mut values = vec![Value::Null; self.wanted.len()];
        for position in &self.positions {
            let value = r.value().map_err(corrupt)?;
            if let Some(i) = position {
                values[*i] = value;
            }
        }
        r.finish().map_err(corrupt)?;
        Ok(values)
    }

    fn map_block(&mut self, block: &[u8]) -> Result<()> {
        let mut names = Reader::new(block);
        let count = names.len().map_err(corrupt)?;
        let mut positions = Vec::with_capacity(count);
        for _ in 0..count {
            let name = names.str().map_err(corrupt)?;
            positions.push(self.index.get(name).copied());
        }
        names.finish().map_err(corrupt)?;
        self.positions = positions;
        self.block = block.to_vec();
        Ok(())
    }

    fn values_interleaved(&self, mut r: Reader<'_>) -> Result<Vec<Value>> {
        let count = r.len().map_err(corrupt)?;
        let mut values = vec![Value::Null; self.wanted.len()];
        for _ in 0..count {
            let name = r.str().map_err(corrupt)?;
            let value = r.value().map_err(corrupt)?;
            if let Some(&i) = self.index.get(name) {
                values[i] = value;
            }
        }
        r.finish().map_err(corrupt)?;
        Ok(values)
    }
}

fn corrupt(e: OnlineError) -> OnlineError {
    match e {
        OnlineError::Corrupt(m) => OnlineError::Corrupt(format!("online record: {m}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn round_trips_by_name_and_position() {
        let features = names(&["a", "b"]);
        let writer = RecordWriter::new(&features);
        let first = writer.encode(
            7,
            Some(9),
            &[Value::Int64(1), Value::List(vec![Value::Null])],
        );
        let second = writer.encode(-8, None, &[Value::Int64(2), Value::Null]);
        assert_eq!(version(&first).ok(), Some((7, Some(9))));
        assert_eq!(version(&second).ok(), Some((-8, None)));

        let wanted = names(&["b", "missing", "a"]);
        let mut reader = RecordReader::new(&wanted);
        assert_eq!(
            reader.values(&first).ok(),
            Some(vec![
                Value::List(vec![Value::Null]),
                Value::Null,
                Value::Int64(1)
            ])
        );
        // The second record reuses the mapped block.
        assert_eq!(
            reader.values(&second).ok(),
            Some(vec![Value::Null, Value::Null, Value::Int64(2)])
        );
        // A record written under another definition is mapped again.
        let other = RecordWriter::new(&names(&["a", "c"])).encode(
            1,
            None,
            &[Value::Int64(3), Value::Bool(true)],
        );
        assert_eq!(
            reader.values(&other).ok(),
            Some(vec![Value::Null, Value::Null, Value::Int64(3)])
        );
        for cut in [0, 5, 12, first.len() - 1] {
            assert!(
                matches!(
                    RecordReader::new(&wanted).values(&first[..cut]),
                    Err(OnlineError::Corrupt(_))
                ),
                "cut at {cut}"
            );
        }
    }

    /// The header's fixed offsets are what the Redis guard script reads.
    #[test]
    fn header_offsets_are_fixed() {
        let record = RecordWriter::new(&names(&["a"])).encode(0x0102, Some(0x0304), &[Value::Null]);
        assert_eq!(record[0], FORMAT);
        assert_eq!(record[1..9], 0x0102i64.to_le_bytes());
        assert_eq!(record[9], 1);
        assert_eq!(record[10..18], 0x0304i64.to_le_bytes());
    }

    #[test]
    fn interleaved_records_are_read() {
        // Format 1, as embedded stores wrote it: header, count, (name, value)*.
        let mut bytes = vec![FORMAT_INTERLEAVED];
        bytes.extend_from_slice(&5i64.to_le_bytes());
        bytes.push(0);
        put_varint(&mut bytes, 2);
        for (name, value) in [("x", Value::Int32(4)), ("y", Value::Float64(0.5))] {
            put_varint(&mut bytes, 1);
            bytes.extend_from_slice(name.as_bytes());
            codec::encode(&value, &mut bytes);
        }
        assert_eq!(version(&bytes).ok(), Some((5, None)));
        let wanted = names(&["y", "x"]);
        assert_eq!(
            RecordReader::new(&wanted).values(&bytes).ok(),
            Some(vec![Value::Float64(0.5), Value::Int32(4)])
        );
    }
}
