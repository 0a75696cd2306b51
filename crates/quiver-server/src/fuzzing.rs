//! The body of the `api_requests` fuzz target (`fuzz/`), here so that the
//! regression test over the committed corpus (`tests/fuzz_corpus.rs`) runs the
//! very same code on stable Rust. Not part of the API.

use quiver_core::{ScalarType, ValueType};
use quiver_offline::pit::{ENTITY_TIMESTAMP, EntityFrame};
use quiver_offline::{TimeWindow, parse_timestamp};
use quiver_store::{PushRequest, WriteRequest, key_from_json};
use serde_json::{Map, Value};

use crate::entities_json::entities_from_json;
use crate::error::parse_json;
use crate::historical::HistoricalParams;
use crate::online::{MaterializeBody, MaterializeIncrementalBody, OnlineBody};
use crate::state::Limits;

/// The join key types an online lookup decodes entity values as.
const KEY_TYPES: [ScalarType; 4] = [
    ScalarType::Int64,
    ScalarType::Int32,
    ScalarType::String,
    ScalarType::Bytes,
];

/// Decodes `data` as the JSON body of every route that takes one, each as its
/// handler does before it needs the store: `/get-online-features`, `/push`,
/// `/write-to-online-store`, `/get-historical-features` (its entity columns
/// into the entity frame) and `/materialize` and `/materialize-incremental`
/// (their timestamps into a window). A 400 is expected; a panic is
/// a bug.
pub fn api_requests(data: &[u8]) {
    // The handlers' bodies keep their fields private; what a handler reads next
    // is taken from the same bytes as plain JSON once the typed parse accepted them.
    let fields = || serde_json::from_slice::<Map<String, Value>>(data).ok();

    if parse_json::<OnlineBody>(data).is_ok()
        && let Some(Value::Object(entities)) = fields().and_then(|mut f| f.remove("entities"))
    {
        online_entities(&entities);
    }

    if let Ok(request) = parse_json::<PushRequest>(data) {
        let _ = request.df.values().find_map(Value::as_array).map(Vec::len);
    }

    if let Ok(request) = parse_json::<WriteRequest>(data) {
        let _ = request.df.values().find_map(Value::as_array).map(Vec::len);
    }

    if let Ok(mut params) = parse_json::<HistoricalParams>(data)
        && let Some(columns) = params.entities.take()
    {
        let timestamp_column = params
            .timestamp_column
            .as_deref()
            .unwrap_or(ENTITY_TIMESTAMP);
        if let Ok(batch) = entities_from_json(&columns, timestamp_column)
            && let Ok(frame) =
                EntityFrame::new(batch, timestamp_column, Limits::default().max_entity_rows)
        {
            for name in columns.keys() {
                for key in KEY_TYPES {
                    let _ = frame.key_column(name, ValueType::Scalar(key));
                }
            }
        }
    }

    if (parse_json::<MaterializeBody>(data).is_ok()
        || parse_json::<MaterializeIncrementalBody>(data).is_ok())
        && let Some(fields) = fields()
    {
        let time = |name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .map(parse_timestamp)
        };
        // `/materialize` needs both; `/materialize-incremental` only the end.
        if let Some(Ok(end)) = time("end_ts") {
            let _ = end.timestamp_micros();
            if let Some(Ok(start)) = time("start_ts") {
                let _ = TimeWindow::new(start, end);
            }
        }
    }
}

/// Every entity value as every join key type, as an online lookup decodes them.
fn online_entities(entities: &Map<String, Value>) {
    for values in entities.values().filter_map(Value::as_array) {
        for value in values {
            for key in KEY_TYPES {
                let _ = key_from_json(value, ValueType::Scalar(key));
            }
        }
    }
}
