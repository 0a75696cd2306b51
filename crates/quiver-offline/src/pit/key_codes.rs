//! Join keys as integers that order as the keys do, for the common case of
//! integer-like keys (ints, dates, times, timestamps): compared in one
//! instruction where Arrow's row format needs a `memcmp` call per comparison
//! and an encoding pass per batch.
//!
//! Each key column becomes a validity bit (0 for null, so nulls come first
//! as the store's sort puts them) and its value offset to be non-negative,
//! in as many bits as the type has; the columns are packed most significant
//! first. Two rows' codes compare as their keys do, column by column, and are
//! equal exactly when the keys are.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, UInt64Type};

use crate::error::Result;

/// Each key column's value width in bits and whether it is signed, when every
/// column is integer-like and all of them fit in 128 bits.
pub fn layout(types: &[DataType]) -> Option<Vec<(u32, bool)>> {
    let widths: Vec<(u32, bool)> = types.iter().map(integer_width).collect::<Option<_>>()?;
    let bits: u32 = widths.iter().map(|&(w, _)| w + 1).sum();
    (bits <= 128).then_some(widths)
}

/// The value width in bits and signedness of an integer-like type.
fn integer_width(data_type: &DataType) -> Option<(u32, bool)> {
    use DataType::*;
    match data_type {
        Int8 => Some((8, true)),
        Int16 => Some((16, true)),
        Int32 | Date32 | Time32(_) => Some((32, true)),
        Int64 | Date64 | Time64(_) | Timestamp(_, _) | Duration(_) => Some((64, true)),
        UInt8 => Some((8, false)),
        UInt16 => Some((16, false)),
        UInt32 => Some((32, false)),
        UInt64 => Some((64, false)),
        _ => None,
    }
}

/// The code of every row of `keys`, laid out as `layout` (from [`layout`] of
/// the keys' types) says.
pub fn codes(keys: &[ArrayRef], layout: &[(u32, bool)]) -> Result<Vec<u128>> {
    let rows = keys.first().map_or(0, |k| k.len());
    let mut codes = vec![0u128; rows];
    for (key, &(bits, signed)) in keys.iter().zip(layout) {
        let shift = bits + 1;
        // Widened to 64 bits; the offset makes a signed value non-negative
        // within its own width.
        let (values, offset): (Vec<u64>, u64) = if signed {
            let wide = cast(key, &DataType::Int64)?;
            let wide = wide.as_primitive::<Int64Type>();
            let offset = 1u64 << (bits - 1);
            let values = wide.values().iter().map(|&v| v as u64).collect();
            (values, offset)
        } else {
            let wide = cast(key, &DataType::UInt64)?;
            (wide.as_primitive::<UInt64Type>().values().to_vec(), 0)
        };
        let mask = u64::MAX >> (64 - bits);
        for (row, code) in codes.iter_mut().enumerate() {
            let part = if key.is_valid(row) {
                (1u128 << bits) | u128::from(values[row].wrapping_add(offset) & mask)
            } else {
                0
            };
            *code = (*code << shift) | part;
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Int32Array, Int64Array, UInt16Array};
    use arrow::row::{RowConverter, SortField};

    use super::*;

    /// Codes order rows exactly as Arrow's row format (the sort order) does.
    fn check(keys: Vec<ArrayRef>) {
        let types: Vec<DataType> = keys.iter().map(|k| k.data_type().clone()).collect();
        let layout = layout(&types).expect("integer keys fit");
        let codes = codes(&keys, &layout).unwrap();
        let converter = RowConverter::new(types.into_iter().map(SortField::new).collect()).unwrap();
        let rows = converter.convert_columns(&keys).unwrap();
        for a in 0..codes.len() {
            for b in 0..codes.len() {
                assert_eq!(
                    codes[a].cmp(&codes[b]),
                    rows.row(a).cmp(&rows.row(b)),
                    "rows {a} and {b}"
                );
            }
        }
    }

    #[test]
    fn codes_order_as_the_keys_do() {
        let extremes = [i64::MIN, -1, 0, 1, i64::MAX];
        check(vec![Arc::new(Int64Array::from_iter(
            extremes.iter().map(|&v| Some(v)).chain([None]),
        ))]);
        check(vec![
            Arc::new(Int32Array::from(vec![
                Some(i32::MIN),
                Some(-5),
                None,
                Some(7),
                Some(-5),
                Some(i32::MAX),
            ])),
            Arc::new(Int64Array::from(vec![
                Some(3),
                Some(i64::MIN),
                Some(2),
                None,
                Some(i64::MAX),
                Some(0),
            ])),
        ]);
        check(vec![Arc::new(Date32Array::from(vec![
            Some(-3),
            None,
            Some(19_000),
            Some(0),
        ]))]);
        check(vec![Arc::new(UInt16Array::from(vec![
            Some(0),
            None,
            Some(u16::MAX),
            Some(9),
        ]))]);
    }

    #[test]
    fn wide_or_other_keys_have_no_layout() {
        assert!(layout(&[DataType::Int64, DataType::Int64]).is_none());
        assert!(layout(&[DataType::Utf8]).is_none());
        assert!(layout(&[DataType::Int64, DataType::Int32]).is_some());
    }
}
