//! Arrow tables on a Flight stream: the upload read into one batch (bounded),
//! Feast's entity tables made plain, and answers sent as a stream of batches.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Schema};
use arrow_flight::FlightData;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{SinkExt, Stream, StreamExt, TryStreamExt};
use quiver_offline::pit::ENTITY_TIMESTAMP;
use quiver_offline::{TableRows, slices};
use tonic::Status;

use crate::error::ApiError;

/// Rows per batch of an answer: small enough that the first bytes go out
/// early and no message nears gRPC's limits.
const ANSWER_ROWS: usize = 64 * 1024;
/// Slices gathered ahead of the client.
const SLICES_AHEAD: usize = 1;

/// The uploaded table, at most `max_bytes` of Arrow data; `None` when the
/// client sent no schema (an empty upload).
pub async fn read_upload(
    data: impl Stream<Item = Result<FlightData, Status>> + Send + 'static,
    max_bytes: usize,
) -> Result<Option<RecordBatch>, ApiError> {
    let mut batches = FlightRecordBatchStream::new_from_flight_data(
        data.map_err(|status| FlightError::Tonic(Box::new(status))),
    );
    let mut collected = Vec::new();
    let mut bytes = 0usize;
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(|e| ApiError::bad_request(format!("the uploaded table: {e}")))?;
        bytes += batch.get_array_memory_size();
        if bytes > max_bytes {
            return Err(ApiError {
                status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                code: "payload_too_large",
                message: format!("the uploaded table is over the limit of {max_bytes} bytes"),
                missing: None,
            });
        }
        collected.push(batch);
    }
    let Some(schema) = batches.schema().cloned() else {
        return Ok(None);
    };
    concat_batches(&schema, &collected)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("the uploaded table: {e}")))
}

/// Feast's entity table as rows: the columns pandas adds for its index and
/// the pandas metadata dropped; `None` for the one-column `key` table Feast
/// sends when it has no entity rows.
pub fn entity_rows(table: RecordBatch) -> Option<RecordBatch> {
    let schema = table.schema();
    if schema.fields().len() == 1 && schema.field(0).name() == "key" {
        return None;
    }
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !schema.field(i).name().starts_with("__index_level_"))
        .collect();
    let fields: Vec<_> = keep.iter().map(|&i| schema.field(i).clone()).collect();
    let columns = keep.iter().map(|&i| table.column(i).clone()).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).ok()
}

/// The entity rows' time column as Feast finds it: `event_timestamp`, else
/// the only timestamp column.
pub fn entity_timestamp_column(rows: &RecordBatch) -> Result<String, ApiError> {
    let schema = rows.schema();
    if schema.column_with_name(ENTITY_TIMESTAMP).is_some() {
        return Ok(ENTITY_TIMESTAMP.to_string());
    }
    let times: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| matches!(f.data_type(), DataType::Timestamp(..)))
        .map(|f| f.name().as_str())
        .collect();
    match times.as_slice() {
        [only] => Ok((*only).to_string()),
        [] => Err(ApiError::bad_request(format!(
            "the entity rows have no `{ENTITY_TIMESTAMP}` column and no other timestamp column"
        ))),
        many => Err(ApiError::bad_request(format!(
            "the entity rows have no `{ENTITY_TIMESTAMP}` column and several timestamp columns ({}); name one `{ENTITY_TIMESTAMP}`",
            many.join(", ")
        ))),
    }
}

/// `table` as a Flight stream. Each slice of rows is asked for (a training set
/// gathers it then, on every core) on a blocking thread, at most
/// [`SLICES_AHEAD`] ahead of what the client has taken.
pub fn answer(table: Arc<dyn TableRows>) -> BoxStream<'static, Result<FlightData, Status>> {
    let schema = table.schema();
    let (mut tx, rx) = mpsc::channel(SLICES_AHEAD);
    tokio::task::spawn_blocking(move || {
        for (start, len) in slices(table.num_rows(), ANSWER_ROWS) {
            let slice = table
                .rows(start, len)
                .map_err(|e| FlightError::ExternalError(Box::new(e)));
            let failed = slice.is_err();
            // A send fails when the client went away: stop gathering.
            if futures::executor::block_on(tx.send(slice)).is_err() || failed {
                break;
            }
        }
    });
    FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(rx)
        .map_err(|e| Status::internal(format!("encoding the answer: {e}")))
        .boxed()
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray, TimestampNanosecondArray};
    use arrow::datatypes::{Field, TimeUnit};

    use super::*;

    fn table(fields: Vec<Field>, columns: Vec<arrow::array::ArrayRef>) -> RecordBatch {
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn feasts_placeholder_table_is_no_rows_and_pandas_index_columns_go() {
        let placeholder = table(
            vec![Field::new("key", DataType::Utf8, true)],
            vec![Arc::new(StringArray::from(vec!["mock_key"]))],
        );
        assert!(entity_rows(placeholder).is_none());
        let ts = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        let uploaded = table(
            vec![
                Field::new("driver_id", DataType::Int64, true),
                Field::new("when", ts, true),
                Field::new("__index_level_0__", DataType::Int64, true),
            ],
            vec![
                Arc::new(Int64Array::from(vec![1])),
                Arc::new(TimestampNanosecondArray::from(vec![0]).with_timezone("UTC")),
                Arc::new(Int64Array::from(vec![7])),
            ],
        );
        let rows = entity_rows(uploaded).unwrap();
        assert_eq!(rows.num_columns(), 2);
        assert_eq!(entity_timestamp_column(&rows).unwrap(), "when");
    }

    #[tokio::test]
    async fn answers_are_sliced_and_an_empty_answer_keeps_its_schema() {
        let rows = ANSWER_ROWS * 2 + 1;
        let batch = table(
            vec![Field::new("n", DataType::Int64, false)],
            vec![Arc::new(Int64Array::from_iter_values(0..rows as i64))],
        );
        let stream = answer(Arc::new(batch));
        let decoded: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(
            stream.map_err(|s| FlightError::Tonic(Box::new(s))),
        )
        .try_collect()
        .await
        .unwrap();
        assert_eq!(decoded.len(), 3);
        assert_eq!(
            decoded.iter().map(RecordBatch::num_rows).sum::<usize>(),
            rows
        );
    }
}
