//! The body of the `kafka_message` fuzz target (`fuzz/`), here so that the
//! regression test over the committed corpus (`tests/fuzz_corpus.rs`) runs the
//! very same code on stable Rust. Not part of the API.

use std::sync::OnceLock;

use quiver_online::{MAX_TIMESTAMP_US, OnlineRow, Value, codec};

use crate::ingest::IngestView;

/// The views the fuzzed messages are decoded for, written as a user would: a
/// compound key of an int64 and a string join key, an int32 key, a source with a
/// `field_mapping` and a created timestamp field, one with neither (the message
/// timestamp is the created time), and every feature type.
pub const DEFINITIONS: &str = r#"
entities:
  - name: driver
    join_keys: [{ name: driver_id, dtype: int64 }]
  - name: city
    join_keys: [{ name: city_code, dtype: string }]
  - name: vehicle
    join_keys: [{ name: vehicle_id, dtype: int32 }]
sources:
  - name: trips_batch
    kind: parquet
    path: data/trips.parquet
    timestamp_field: event_timestamp
  - name: trips_stream
    kind: kafka
    topic: trips
    timestamp_field: event_timestamp
    created_timestamp_field: created
    field_mapping: { rate: conv_rate, city: city_code }
  - name: vehicles_stream
    kind: kafka
    topic: vehicles
    timestamp_field: ts
feature_views:
  - name: driver_city_stats
    entities: [driver, city]
    source: trips_batch
    stream_source: trips_stream
    ttl: 2h
    features:
      - { name: conv_rate, dtype: float32 }
      - { name: acc_rate, dtype: float64 }
      - { name: trips, dtype: int32 }
      - { name: total_trips, dtype: int64 }
      - { name: active, dtype: bool }
      - { name: segment, dtype: string }
      - { name: badge, dtype: bytes }
      - { name: last_seen, dtype: timestamp }
  - name: vehicle_history
    entities: [vehicle]
    source: trips_batch
    stream_source: vehicles_stream
    features:
      - { name: recent_rates, dtype: "list<float32>" }
      - { name: recent_trips, dtype: "list<int64>" }
      - { name: recent_cities, dtype: "list<string>" }
      - { name: flags, dtype: "list<bool>" }
      - { name: payloads, dtype: "list<bytes>" }
      - { name: stops, dtype: "list<timestamp>" }
      - { name: samples, dtype: "list<int32>" }
      - { name: weights, dtype: "list<float64>" }
"#;

/// The created time the worker takes from the message timestamp.
const MESSAGE_TIMESTAMP_US: i64 = 1_704_067_200_000_000;

/// The stream views of [`DEFINITIONS`], prepared as the ingest prepares them.
pub fn views() -> &'static [IngestView] {
    static VIEWS: OnceLock<Vec<IngestView>> = OnceLock::new();
    VIEWS.get_or_init(|| {
        let (spec, _) = quiver_core::parse_definitions("fuzz", [("fuzz.yaml", DEFINITIONS)])
            .unwrap_or_else(|errors| panic!("the fuzz definitions are invalid: {errors:?}"));
        spec.feature_views
            .iter()
            .filter_map(|v| v.stream_source.as_deref().map(|s| (v, s)))
            .map(|(v, source)| {
                let source = spec
                    .source(source)
                    .unwrap_or_else(|| panic!("unknown stream source `{source}`"));
                IngestView::new(&spec, &v.name, source)
                    .unwrap_or_else(|e| panic!("cannot prepare view `{}`: {e}", v.name))
            })
            .collect()
    })
}

/// Decodes `data` as a Kafka message payload for every view, as the ingest
/// worker does (it decodes a message for each view of its topic). A refusal is expected; a panic is a bug, and so is a decoded row
/// the online store would refuse or store differently.
pub fn kafka_message(data: &[u8]) {
    for view in views() {
        match view.decoder.decode_bytes(data, Some(MESSAGE_TIMESTAMP_US)) {
            Ok(row) => check_row(view, &row),
            // Its text goes to the dead-letter headers.
            Err(rejected) => {
                let _ = rejected.to_string();
            }
        }
    }
}

fn check_row(view: &IngestView, row: &OnlineRow) {
    assert_eq!(
        row.values.len(),
        view.meta.features.len(),
        "one value per feature"
    );
    for ts in std::iter::once(row.event_ts).chain(row.created_ts) {
        assert!(
            (-MAX_TIMESTAMP_US..=MAX_TIMESTAMP_US).contains(&ts),
            "timestamp {ts} out of the online store's range"
        );
    }
    for (name, value) in row.key.pairs() {
        assert!(!name.is_empty(), "empty join key name");
        round_trip(value);
    }
    for value in &row.values {
        round_trip(value);
    }
}

/// What the online store keeps is what it gives back.
fn round_trip(value: &Value) {
    let bytes = codec::encode_to_vec(value);
    match codec::decode(&bytes) {
        Ok(back) => assert_eq!(&back, value, "the online codec changed a value"),
        Err(e) => panic!("the online codec cannot read back {value:?}: {e}"),
    }
    in_range(value);
}

/// Timestamp values, in lists too, fit the online store (the Redis guard compares doubles).
fn in_range(value: &Value) {
    match value {
        Value::Timestamp(us) => assert!(
            (-MAX_TIMESTAMP_US..=MAX_TIMESTAMP_US).contains(us),
            "timestamp value {us} out of range"
        ),
        Value::List(items) => items.iter().for_each(in_range),
        _ => {}
    }
}
