//! Typed streamed rows as a batch in a view's canonical offline layout.

use std::borrow::Borrow;

use arrow::array::{ArrayRef, RecordBatch};
use quiver_offline::{CREATED_TS, EVENT_TS, OfflineError, ViewSchema};
use quiver_online::{OnlineRow, Value};

use crate::error::Result;
use crate::online::value_column;

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
        columns.push(value_column(&values, field.data_type())?);
    }
    Ok(RecordBatch::try_new(view.schema.clone(), columns).map_err(OfflineError::from)?)
}
