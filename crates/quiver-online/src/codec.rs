//! Compact binary encoding of a [`Value`]: one tag byte, then a little-endian
//! payload. Strings, bytes and lists carry their length (element count for lists)
//! as an unsigned LEB128 varint. Lists nest.
//!
//! | tag | value      | payload                              |
//! |-----|------------|--------------------------------------|
//! | 0   | Null       | none                                 |
//! | 1   | Bool       | 1 byte, 0 or 1                       |
//! | 2   | Int32      | 4 bytes LE                           |
//! | 3   | Int64      | 8 bytes LE                           |
//! | 4   | Float32    | 4 bytes LE (IEEE 754 bits)           |
//! | 5   | Float64    | 8 bytes LE (IEEE 754 bits)           |
//! | 6   | String     | varint byte length, UTF-8 bytes      |
//! | 7   | Bytes      | varint length, bytes                 |
//! | 8   | Timestamp  | 8 bytes LE (UTC µs)                  |
//! | 9   | List       | varint count, that many encodings    |
//!
//! The format is stored in Redis and in the embedded store: append new tags, never
//! change existing ones.

use crate::error::{OnlineError, Result};
use crate::value::Value;

const TAG_NULL: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_INT32: u8 = 2;
const TAG_INT64: u8 = 3;
const TAG_FLOAT32: u8 = 4;
const TAG_FLOAT64: u8 = 5;
const TAG_STRING: u8 = 6;
const TAG_BYTES: u8 = 7;
const TAG_TIMESTAMP: u8 = 8;
const TAG_LIST: u8 = 9;

/// Lists nested deeper than this are refused when decoding (corrupt input must not
/// exhaust the stack).
const MAX_DEPTH: usize = 64;

/// Appends the encoding of `value` to `out`.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(v) => {
            out.push(TAG_BOOL);
            out.push(u8::from(*v));
        }
        Value::Int32(v) => {
            out.push(TAG_INT32);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Value::Int64(v) => {
            out.push(TAG_INT64);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Value::Float32(v) => {
            out.push(TAG_FLOAT32);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Value::Float64(v) => {
            out.push(TAG_FLOAT64);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Value::String(v) => {
            out.push(TAG_STRING);
            put_varint(out, v.len() as u64);
            out.extend_from_slice(v.as_bytes());
        }
        Value::Bytes(v) => {
            out.push(TAG_BYTES);
            put_varint(out, v.len() as u64);
            out.extend_from_slice(v);
        }
        Value::Timestamp(v) => {
            out.push(TAG_TIMESTAMP);
            out.extend_from_slice(&v.to_le_bytes());
        }
        Value::List(items) => {
            out.push(TAG_LIST);
            put_varint(out, items.len() as u64);
            for item in items {
                encode(item, out);
            }
        }
    }
}

/// The encoding of `value` in a new buffer.
pub fn encode_to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    encode(value, &mut out);
    out
}

/// Decodes exactly one value that spans all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Value> {
    let mut reader = Reader::new(bytes);
    let value = reader.value()?;
    reader.finish()?;
    Ok(value)
}

/// Appends `n` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A cursor over encoded bytes; every read checks bounds.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(corrupt(format!(
                "{} trailing bytes after the encoded value",
                self.remaining()
            )))
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(corrupt(format!(
                "truncated: needed {n} bytes at offset {}, {} left",
                self.pos,
                self.remaining()
            )));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    pub(crate) fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(corrupt("varint overflows 64 bits".to_string()));
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("varint longer than 10 bytes".to_string()))
    }

    /// A varint length that must fit in what is left of the input.
    pub(crate) fn len(&mut self) -> Result<usize> {
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(corrupt(format!(
                "length {n} at offset {} exceeds the {} bytes left",
                self.pos,
                self.remaining()
            ))),
        }
    }

    pub(crate) fn str(&mut self) -> Result<&'a str> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map_err(|e| corrupt(format!("string is not UTF-8: {e}")))
    }

    pub(crate) fn value(&mut self) -> Result<Value> {
        self.value_at(0)
    }

    fn value_at(&mut self, depth: usize) -> Result<Value> {
        let tag = self.byte()?;
        Ok(match tag {
            TAG_NULL => Value::Null,
            TAG_BOOL => match self.byte()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(corrupt(format!("bool byte {b} is neither 0 nor 1"))),
            },
            TAG_INT32 => Value::Int32(i32::from_le_bytes(self.array()?)),
            TAG_INT64 => Value::Int64(self.i64()?),
            TAG_FLOAT32 => Value::Float32(f32::from_bits(u32::from_le_bytes(self.array()?))),
            TAG_FLOAT64 => Value::Float64(f64::from_bits(u64::from_le_bytes(self.array()?))),
            TAG_STRING => Value::String(self.str()?.to_owned()),
            TAG_BYTES => {
                let n = self.len()?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            TAG_TIMESTAMP => Value::Timestamp(self.i64()?),
            TAG_LIST => {
                if depth >= MAX_DEPTH {
                    return Err(corrupt(format!("lists nested deeper than {MAX_DEPTH}")));
                }
                // Every element takes at least one byte, so `len` bounds the count.
                let count = self.len()?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.value_at(depth + 1)?);
                }
                Value::List(items)
            }
            other => return Err(corrupt(format!("unknown value tag {other}"))),
        })
    }
}

fn corrupt(message: String) -> OnlineError {
    OnlineError::Corrupt(format!("value encoding: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_compact() {
        assert_eq!(encode_to_vec(&Value::Null), vec![0]);
        assert_eq!(encode_to_vec(&Value::Bool(true)), vec![1, 1]);
        assert_eq!(
            encode_to_vec(&Value::Int32(-1)),
            vec![2, 255, 255, 255, 255]
        );
        assert_eq!(encode_to_vec(&Value::Int64(1)).len(), 9);
        assert_eq!(
            encode_to_vec(&Value::String("ab".into())),
            vec![6, 2, b'a', b'b']
        );
    }

    #[test]
    fn varints_round_trip() {
        for n in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            let mut r = Reader::new(&out);
            assert_eq!(r.varint().ok(), Some(n));
            assert!(r.finish().is_ok());
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            &[][..],
            &[42][..],
            &[1, 2][..],
            &[3, 0, 0][..],
            &[6, 5, b'a'][..],
            &[6, 1, 0xff][..],
            &[9, 200, 1][..],
            &[0, 0][..],
            &[
                7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ][..],
        ] {
            let err = decode(bad).err();
            assert!(
                matches!(err, Some(OnlineError::Corrupt(_))),
                "{bad:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.extend_from_slice(&[9, 1]);
        }
        bytes.push(0);
        assert!(matches!(decode(&bytes), Err(OnlineError::Corrupt(_))));
    }
}
