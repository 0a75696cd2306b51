//! Typed streamed rows as a batch in a view's canonical offline layout.

use std::borrow::Borrow;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use quiver_offline::{CREATED_TS, EVENT_TS, OfflineError, ViewSchema};
use quiver_online::{OnlineRow, Value};

use crate::error::{Result, StoreError};

/// `rows` (values in the order of the view's features) as one canonical batch.
pub(crate) fn rows_to_batch(
    view: &ViewSchema,
    rows: &[impl Borrow<OnlineRow>],
) -> Result<RecordBatch> {
    let rows = rows.iter().map(Borrow::borrow);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(view.schema.fields().len());
    for field in view.schema.fields() {
        let name = field.name().as_str();
        let values: Vec<Value> = if name == EVENT_TS {
            rows.clone().map(|r| Value::Timestamp(r.event_ts)).collect()
        } else if name == CREATED_TS {
            rows.clone()
                .map(|r| r.created_ts.map_or(Value::Null, Value::Timestamp))
                .collect()
        } else if let Some(i) = view.view.features.iter().position(|f| f.name == name) {
            rows.clone()
                .map(|r| r.values.get(i).cloned().unwrap_or(Value::Null))
                .collect()
        } else {
            rows.clone()
                .map(|r| {
                    r.key
                        .pairs()
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or(Value::Null)
                })
                .collect()
        };
        columns.push(column(&values, field.data_type())?);
    }
    Ok(RecordBatch::try_new(view.schema.clone(), columns).map_err(OfflineError::from)?)
}

/// One column of `data_type` (keys come normalized to int64 and are cast back).
fn column(values: &[Value], data_type: &DataType) -> Result<ArrayRef> {
    let scalars = values
        .iter()
        .map(|v| scalar(v, data_type))
        .collect::<Result<Vec<_>>>()?;
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

fn scalar(value: &Value, data_type: &DataType) -> Result<ScalarValue> {
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
                .collect::<Result<Vec<_>>>()?;
            ScalarValue::List(ScalarValue::new_list_nullable(&items, item.data_type()))
        }
    })
}
