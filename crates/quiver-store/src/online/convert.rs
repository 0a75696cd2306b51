//! Values between Arrow columns, online values and JSON.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::ScalarValue;
use quiver_core::{ScalarType, ValueType};
use quiver_offline::OfflineError;
use quiver_online::Value;
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
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int32(v) => J::from(*v),
        Value::Int64(v) => J::from(*v),
        // Through the shortest decimal text, so 0.1f32 prints as 0.1.
        Value::Float32(v) => v
            .to_string()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(J::Null, J::Number),
        Value::Float64(v) => Number::from_f64(*v).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.clone()),
        Value::Bytes(b) => J::from(b.clone()),
        Value::Timestamp(us) => J::String(rfc3339(*us)),
        Value::List(items) => J::Array(items.iter().map(json_value).collect()),
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
