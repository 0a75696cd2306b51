//! Values between Arrow columns, online values and JSON.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::ScalarValue;
use quiver_core::{ScalarType, ValueType};
use quiver_offline::OfflineError;
use quiver_online::Value;
use serde::Serialize;
use serde_json::Number;

use crate::error::StoreError;
use crate::time::rfc3339;

/// The value at `row` of a column in the offline store's canonical types.
pub fn arrow_value(array: &ArrayRef, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int32 => Value::Int32(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => Value::Int64(array.as_primitive::<Int64Type>().value(row)),
        DataType::Float32 => Value::Float32(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => Value::Float64(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_string()),
        DataType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Value::Timestamp(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            Value::List((0..items.len()).map(|i| arrow_value(&items, i)).collect())
        }
        // The canonical layout only holds the types above.
        _ => Value::Null,
    }
}

/// A feature value as JSON (timestamps as RFC 3339, bytes as arrays of numbers).
pub fn json_value(value: &Value) -> serde_json::Value {
    // Serializing a value into a tree cannot fail: it has no maps.
    serde_json::to_value(StoredValue(value)).unwrap_or(serde_json::Value::Null)
}

/// The double whose shortest text is the float32's (`0.1f32` is `0.1`), as
/// formatted on the stack instead of in a `String`.
fn shortest_f64(v: f32) -> f64 {
    use std::io::Write;
    // A finite f32's shortest text is at most 48 bytes (`-0.` and 45 digits).
    let mut buffer = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buffer[..]);
    let written = write!(cursor, "{v}").map(|()| cursor.position() as usize);
    written
        .ok()
        .and_then(|len| std::str::from_utf8(&buffer[..len]).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(f64::from(v))
}

/// A stored value as JSON, serialized straight from its type: the one
/// definition of a value's JSON ([`json_value`] builds its tree from it).
pub(crate) struct StoredValue<'a>(pub(crate) &'a Value);

impl Serialize for StoredValue<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self.0 {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int32(v) => serializer.serialize_i32(*v),
            Value::Int64(v) => serializer.serialize_i64(*v),
            // Non-finite floats have no JSON number: null.
            Value::Float32(v) if v.is_finite() => serializer.serialize_f64(shortest_f64(*v)),
            Value::Float64(v) if v.is_finite() => serializer.serialize_f64(*v),
            Value::Float32(_) | Value::Float64(_) => serializer.serialize_unit(),
            Value::String(text) => serializer.serialize_str(text),
            Value::Bytes(bytes) => {
                let mut seq = serializer.serialize_seq(Some(bytes.len()))?;
                for byte in bytes {
                    seq.serialize_element(byte)?;
                }
                seq.end()
            }
            Value::Timestamp(us) => serializer.serialize_str(&rfc3339(*us)),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&StoredValue(item))?;
                }
                seq.end()
            }
        }
    }
}

/// A join key value from JSON, as the key's declared type.
pub fn key_from_json(value: &serde_json::Value, dtype: ValueType) -> Result<Value, String> {
    use serde_json::Value as J;
    let wrong = || format!("{value} is not a valid {dtype}");
    match (dtype, value) {
        (ValueType::Scalar(ScalarType::Int64), J::Number(n)) => {
            integral(n).map(Value::Int64).ok_or_else(wrong)
        }
        (ValueType::Scalar(ScalarType::Int64), J::String(s)) => {
            s.parse().map(Value::Int64).map_err(|_| wrong())
        }
        (ValueType::Scalar(ScalarType::Int32), J::Number(n)) => integral(n)
            .and_then(|v| i32::try_from(v).ok())
            .map(Value::Int32)
            .ok_or_else(wrong),
        (ValueType::Scalar(ScalarType::Int32), J::String(s)) => {
            s.parse().map(Value::Int32).map_err(|_| wrong())
        }
        (ValueType::Scalar(ScalarType::String), J::String(s)) => Ok(Value::String(s.clone())),
        (ValueType::Scalar(ScalarType::String), J::Number(n)) => Ok(Value::String(n.to_string())),
        (ValueType::Scalar(ScalarType::Bytes), J::String(s)) => {
            Ok(Value::Bytes(s.as_bytes().to_vec()))
        }
        _ => Err(wrong()),
    }
}

/// A JSON number as an integer when it is one, written `1001` or `1001.0`
/// (pandas turns an integer column with a gap into floats).
fn integral(n: &Number) -> Option<i64> {
    if let Some(v) = n.as_i64() {
        return Some(v);
    }
    let f = n.as_f64()?;
    // 2^63 is exact as f64; everything below it in magnitude converts exactly.
    let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f);
    (f.fract() == 0.0 && in_range).then_some(f as i64)
}

/// One column of `data_type` (keys come normalized to int64 and are cast back).
pub(crate) fn value_column(values: &[Value], data_type: &DataType) -> crate::Result<ArrayRef> {
    let scalars = values
        .iter()
        .map(|v| scalar(v, data_type))
        .collect::<crate::Result<Vec<_>>>()?;
    let array = if scalars.is_empty() {
        arrow::array::new_empty_array(data_type)
    } else {
        ScalarValue::iter_to_array(scalars).map_err(OfflineError::from)?
    };
    if array.data_type() == data_type {
        return Ok(array);
    }
    Ok(arrow::compute::cast(&array, data_type).map_err(OfflineError::from)?)
}

fn scalar(value: &Value, data_type: &DataType) -> crate::Result<ScalarValue> {
    Ok(match value {
        Value::Null => ScalarValue::try_from(data_type).map_err(OfflineError::from)?,
        Value::Bool(v) => ScalarValue::Boolean(Some(*v)),
        Value::Int32(v) => ScalarValue::Int32(Some(*v)),
        Value::Int64(v) => ScalarValue::Int64(Some(*v)),
        Value::Float32(v) => ScalarValue::Float32(Some(*v)),
        Value::Float64(v) => ScalarValue::Float64(Some(*v)),
        Value::String(v) => ScalarValue::Utf8(Some(v.clone())),
        Value::Bytes(v) => ScalarValue::Binary(Some(v.clone())),
        Value::Timestamp(us) => ScalarValue::TimestampMicrosecond(Some(*us), Some("UTC".into())),
        Value::List(items) => {
            let DataType::List(item) = data_type else {
                return Err(StoreError::Request(format!(
                    "a list value cannot be stored as {data_type}"
                )));
            };
            let items = items
                .iter()
                .map(|v| scalar(v, item.data_type()))
                .collect::<crate::Result<Vec<_>>>()?;
            ScalarValue::List(ScalarValue::new_list_nullable(&items, item.data_type()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_short_and_keys_parse_by_type() {
        assert_eq!(json_value(&Value::Float32(0.1)), json!(0.1));
        assert_eq!(
            json_value(&Value::Timestamp(0)),
            json!("1970-01-01T00:00:00Z")
        );
        let int64: ValueType = "int64".parse().unwrap();
        assert_eq!(key_from_json(&json!(1001), int64), Ok(Value::Int64(1001)));
        assert_eq!(key_from_json(&json!("1001"), int64), Ok(Value::Int64(1001)));
        assert!(key_from_json(&json!(1.5), int64).is_err());
        assert_eq!(key_from_json(&json!(1001.0), int64), Ok(Value::Int64(1001)));
        assert_eq!(key_from_json(&json!(-3.0), int64), Ok(Value::Int64(-3)));
        assert!(key_from_json(&json!(1e19), int64).is_err());
        let int32: ValueType = "int32".parse().unwrap();
        assert_eq!(key_from_json(&json!(7.0), int32), Ok(Value::Int32(7)));
        assert!(key_from_json(&json!(3e9), int32).is_err());
        assert!(key_from_json(&json!("x"), int64).is_err());
    }
}
