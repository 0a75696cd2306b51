//! Entity frames sent inline as JSON columns: `{"driver_id": [1001, 1002],
//! "event_timestamp": ["2024-01-01T00:00:00Z", ...]}`. The entity timestamp
//! column's RFC 3339 strings become a UTC timestamp column; every other column
//! is kept as given (a string key may look like a time and still be a key).

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Builds a batch from JSON columns; each column's type comes from its values
/// (integers, numbers, strings or booleans; nulls allowed), and the column
/// `timestamp_column` holds times.
pub fn entities_from_json(
    columns: &Map<String, Value>,
    timestamp_column: &str,
) -> Result<RecordBatch, ApiError> {
    if columns.is_empty() {
        return Err(ApiError::bad_request("`entities` has no columns"));
    }
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let mut rows: Option<(usize, &str)> = None;
    for (name, values) in columns {
        let values = values.as_array().ok_or_else(|| {
            ApiError::bad_request(format!("entities column `{name}` must be a list of values"))
        })?;
        match rows {
            Some((n, first)) if n != values.len() => {
                return Err(ApiError::bad_request(format!(
                    "entities columns differ in length: `{first}` has {n} values, `{name}` has {}",
                    values.len()
                )));
            }
            None => rows = Some((values.len(), name)),
            _ => {}
        }
        let array = column(name, values, name == timestamp_column)?;
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

fn column(name: &str, values: &[Value], holds_times: bool) -> Result<ArrayRef, ApiError> {
    let present = values.iter().filter(|v| !v.is_null());
    let kind = present.clone().fold(None, |kind: Option<DataType>, v| {
        let this = match v {
            Value::Bool(_) => DataType::Boolean,
            Value::Number(n) if n.is_i64() => DataType::Int64,
            Value::Number(_) => DataType::Float64,
            Value::String(_) => DataType::Utf8,
            _ => DataType::Null,
        };
        Some(match (kind, this) {
            (None, t) => t,
            (Some(DataType::Int64), DataType::Float64)
            | (Some(DataType::Float64), DataType::Int64) => DataType::Float64,
            (Some(a), b) if a == b => a,
            _ => DataType::Null,
        })
    });
    let mixed = || {
        ApiError::bad_request(format!(
            "entities column `{name}` mixes value types (or holds lists/objects)"
        ))
    };
    Ok(match kind.unwrap_or(DataType::Utf8) {
        DataType::Boolean => Arc::new(values.iter().map(Value::as_bool).collect::<BooleanArray>()),
        DataType::Int64 => Arc::new(values.iter().map(Value::as_i64).collect::<Int64Array>()),
        DataType::Float64 => Arc::new(values.iter().map(Value::as_f64).collect::<Float64Array>()),
        DataType::Utf8 => {
            let text = values.iter().map(Value::as_str).collect::<StringArray>();
            // RFC 3339 strings carry a zone: they make a UTC timestamp column.
            match holds_times
                .then(|| quiver_offline::text_times::rfc3339_column(name, &text))
                .flatten()
            {
                Some(times) => times?,
                None => Arc::new(text),
            }
        }
        _ => return Err(mixed()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn infers_column_types() {
        let columns = json!({"id": [1, 2, null], "x": [1, 2.5, 3], "s": ["a", null, "c"], "b": [true, false, true]});
        let batch = entities_from_json(columns.as_object().unwrap(), "t").unwrap();
        let types: Vec<DataType> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            vec![
                DataType::Int64,
                DataType::Float64,
                DataType::Utf8,
                DataType::Boolean
            ]
        );
        assert_eq!(batch.num_rows(), 3);
    }

    #[test]
    fn rfc3339_strings_make_a_utc_column() {
        use arrow::array::Array;
        let columns = json!({"t": ["2024-01-01T05:30:00+05:30", null], "id": ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]});
        let batch = entities_from_json(columns.as_object().unwrap(), "t").unwrap();
        let schema = batch.schema();
        assert_eq!(
            schema.field(0).data_type(),
            &DataType::Timestamp(arrow::datatypes::TimeUnit::Second, Some("UTC".into()))
        );
        // Only the entity timestamp column holds times: a key that looks like one stays text.
        assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
        let times = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::TimestampSecondArray>()
            .unwrap();
        assert_eq!(times.value(0), 1_704_067_200);
        assert!(times.is_null(1));
    }

    #[test]
    fn rejects_ragged_and_mixed_columns() {
        let ragged = json!({"a": [1, 2], "b": [1]});
        assert!(
            entities_from_json(ragged.as_object().unwrap(), "t")
                .unwrap_err()
                .message
                .contains("differ in length")
        );
        let mixed = json!({"a": [1, "x"]});
        assert!(
            entities_from_json(mixed.as_object().unwrap(), "t")
                .unwrap_err()
                .message
                .contains("mixes")
        );
    }
}
