//! Streamed records (Kafka messages, push rows) into typed rows of a view: the
//! one place that decides what a valid record is, so the Kafka ingest and the
//! push API accept and reject exactly the same input.

use std::fmt;

use quiver_core::ranges::{self, TIMESTAMP_RANGE};
use quiver_core::{FeatureViewSpec, JoinKey, ScalarType, SourceSpec, ValueType};
use quiver_online::{EntityKey, OnlineRow, Value};
use serde_json::{Map, Value as Json};

use crate::online::key_from_json;

/// Why a record was refused: the label of the dead-letter header and of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    NotJson,
    NotAnObject,
    MissingKey,
    WrongType,
    MissingTimestamp,
    BadTimestamp,
    /// A well-formed value the stores cannot hold: a number beyond its type's
    /// range, a timestamp outside the supported range (`quiver_core::ranges`).
    OutOfRange,
    /// A data-quality check with policy `fail` or `drop` refused the row.
    CheckFailed,
}

impl RejectReason {
    pub const ALL: [RejectReason; 8] = [
        RejectReason::NotJson,
        RejectReason::NotAnObject,
        RejectReason::MissingKey,
        RejectReason::WrongType,
        RejectReason::MissingTimestamp,
        RejectReason::BadTimestamp,
        RejectReason::OutOfRange,
        RejectReason::CheckFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NotJson => "not_json",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::MissingKey => "missing_key",
            RejectReason::WrongType => "wrong_type",
            RejectReason::MissingTimestamp => "missing_timestamp",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::OutOfRange => "out_of_range",
            RejectReason::CheckFailed => "check_failed",
        }
    }
}

/// A refused record: the reason and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub reason: RejectReason,
    pub detail: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

impl Rejected {
    fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejected {
            reason,
            detail: detail.into(),
        }
    }
}

/// One typed field: its quiver name, the record field it is read from, its type.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    column: String,
    dtype: ValueType,
}

/// Decodes records of one stream source into rows of one view.
#[derive(Debug, Clone)]
pub struct RowDecoder {
    keys: Vec<Field>,
    features: Vec<Field>,
    timestamp_field: String,
    created_timestamp_field: Option<String>,
}

impl RowDecoder {
    pub fn new(view: &FeatureViewSpec, keys: &[JoinKey], source: &SourceSpec) -> Self {
        Self::with_columns(
            view,
            keys,
            |name| source.column_for(name).to_string(),
            &source.timestamp_field,
            source.created_timestamp_field.as_deref(),
        )
    }

    /// Reads records that name the view's own join keys and features (no
    /// source mapping), with the times in `timestamp_field` and
    /// `created_timestamp_field`: Feast's `write-to-online-store` rows.
    pub fn by_name(
        view: &FeatureViewSpec,
        keys: &[JoinKey],
        timestamp_field: &str,
        created_timestamp_field: Option<&str>,
    ) -> Self {
        Self::with_columns(
            view,
            keys,
            str::to_string,
            timestamp_field,
            created_timestamp_field,
        )
    }

    /// Reads each key and feature from the record field `column_of(name)`.
    fn with_columns(
        view: &FeatureViewSpec,
        keys: &[JoinKey],
        column_of: impl Fn(&str) -> String,
        timestamp_field: &str,
        created_timestamp_field: Option<&str>,
    ) -> Self {
        let field = |name: &str, dtype: ValueType| Field {
            name: name.to_string(),
            column: column_of(name),
            dtype,
        };
        RowDecoder {
            keys: keys.iter().map(|k| field(&k.name, k.dtype)).collect(),
            features: view
                .features
                .iter()
                .map(|f| field(&f.name, f.dtype))
                .collect(),
            timestamp_field: timestamp_field.to_string(),
            created_timestamp_field: created_timestamp_field.map(str::to_string),
        }
    }

    /// A message's bytes as a row. `created_us` is the row's created time when
    /// the source maps none (the Kafka message timestamp, stable across replays).
    pub fn decode_bytes(
        &self,
        bytes: &[u8],
        created_us: Option<i64>,
    ) -> Result<OnlineRow, Rejected> {
        let json: Json = serde_json::from_slice(bytes)
            .map_err(|e| Rejected::new(RejectReason::NotJson, e.to_string()))?;
        match json {
            Json::Object(record) => self.decode(&record, created_us),
            other => Err(Rejected::new(
                RejectReason::NotAnObject,
                format!("expected a JSON object, got {}", json_kind(&other)),
            )),
        }
    }

    /// A record as a row. Features absent from the record are null.
    pub fn decode(
        &self,
        record: &Map<String, Json>,
        created_us: Option<i64>,
    ) -> Result<OnlineRow, Rejected> {
        let mut pairs = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            let raw = match record.get(&key.column) {
                None | Some(Json::Null) => {
                    return Err(Rejected::new(
                        RejectReason::MissingKey,
                        format!("join key `{}` is missing or null", key.column),
                    ));
                }
                Some(raw) => raw,
            };
            pairs.push((key.name.clone(), key_value(raw, key)?));
        }
        let key = EntityKey::new(pairs)
            .map_err(|e| Rejected::new(RejectReason::WrongType, e.to_string()))?;
        let event_ts = match time_field(record, &self.timestamp_field) {
            None => {
                return Err(Rejected::new(
                    RejectReason::MissingTimestamp,
                    format!(
                        "timestamp field `{}` is missing or null",
                        self.timestamp_field
                    ),
                ));
            }
            Some(raw) => timestamp(raw, &self.timestamp_field)?,
        };
        let created_ts = match &self.created_timestamp_field {
            Some(field) => match time_field(record, field) {
                None => None,
                Some(raw) => Some(timestamp(raw, field)?),
            },
            None => created_us,
        };
        let values = self
            .features
            .iter()
            .map(|f| match record.get(&f.column) {
                None | Some(Json::Null) => Ok(Value::Null),
                Some(raw) => typed(raw, f),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OnlineRow {
            key,
            event_ts,
            created_ts,
            values,
        })
    }
}

/// A time field of `record`, `None` when absent or null. pandas writes a
/// missing time as the text `NaT` (Feast's client sends its frames so), which
/// is null too.
fn time_field<'a>(record: &'a Map<String, Json>, field: &str) -> Option<&'a Json> {
    match record.get(field) {
        None | Some(Json::Null) => None,
        Some(Json::String(text)) if text.trim() == "NaT" => None,
        Some(raw) => Some(raw),
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// A field as errors name it: its record field, and its feature when mapped.
fn named(field: &Field) -> String {
    if field.name == field.column {
        format!("field `{}`", field.column)
    } else {
        format!("field `{}` (feature `{}`)", field.column, field.name)
    }
}

/// A join key's value. An integer key also takes an integral float
/// (`1001.0`: pandas turns an integer column with a gap into floats), as
/// online reads do.
fn key_value(raw: &Json, field: &Field) -> Result<Value, Rejected> {
    let integer_key = matches!(
        field.dtype,
        ValueType::Scalar(ScalarType::Int32 | ScalarType::Int64)
    );
    match raw {
        Json::Number(n) if integer_key && n.is_f64() => {
            key_from_json(raw, field.dtype).map_err(|why| {
                Rejected::new(RejectReason::WrongType, format!("{}: {why}", named(field)))
            })
        }
        _ => typed(raw, field),
    }
}

/// A field's value as its declared type.
fn typed(raw: &Json, field: &Field) -> Result<Value, Rejected> {
    let wrong = |why: &str| {
        Rejected::new(
            RejectReason::WrongType,
            format!(
                "{} should be {} but is {}{why}",
                named(field),
                field.dtype,
                json_kind(raw)
            ),
        )
    };
    match field.dtype {
        ValueType::Scalar(scalar) => match scalar_value(raw, scalar, field)? {
            Some(value) => Ok(value),
            None => Err(wrong("")),
        },
        ValueType::List(scalar) => {
            let Json::Array(items) = raw else {
                return Err(wrong(""));
            };
            items
                .iter()
                .map(|item| match item {
                    Json::Null => Ok(Value::Null),
                    item => scalar_value(item, scalar, field)?
                        .ok_or_else(|| wrong(&format!(" (item {item})"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List)
        }
    }
}

/// `None` when the JSON kind does not fit the type; an error for a bad
/// timestamp or a value beyond the type's range (`quiver_core::ranges`).
fn scalar_value(raw: &Json, scalar: ScalarType, field: &Field) -> Result<Option<Value>, Rejected> {
    let beyond = |n: &serde_json::Number| {
        let range = match scalar {
            ScalarType::Int32 => "int32's range (-2147483648 to 2147483647)",
            ScalarType::Int64 => "int64's range (-9223372036854775808 to 9223372036854775807)",
            _ => "float32's range (±3.4028235e38)",
        };
        Rejected::new(
            RejectReason::OutOfRange,
            format!("{}: {n} is beyond {range}", named(field)),
        )
    };
    Ok(match (scalar, raw) {
        (ScalarType::Bool, Json::Bool(b)) => Some(Value::Bool(*b)),
        (ScalarType::Int32 | ScalarType::Int64, Json::Number(n)) => match n.as_i64() {
            Some(v) if scalar == ScalarType::Int64 => Some(Value::Int64(v)),
            Some(v) => Some(Value::Int32(ranges::to_int32(v).ok_or_else(|| beyond(n))?)),
            // An integer beyond int64; a fraction is the wrong type.
            None if n.is_u64() => return Err(beyond(n)),
            None => None,
        },
        (ScalarType::Float32, Json::Number(n)) => match n.as_f64() {
            Some(v) => Some(Value::Float32(
                ranges::to_float32(v).ok_or_else(|| beyond(n))?,
            )),
            None => None,
        },
        (ScalarType::Float64, Json::Number(n)) => n.as_f64().map(Value::Float64),
        (ScalarType::String, Json::String(s)) => Some(Value::String(s.clone())),
        (ScalarType::Bytes, Json::String(s)) => Some(Value::Bytes(s.as_bytes().to_vec())),
        (ScalarType::Bytes, Json::Array(items)) => items
            .iter()
            .map(|i| i.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()
            .map(Value::Bytes),
        (ScalarType::Timestamp, raw @ (Json::String(_) | Json::Number(_))) => {
            Some(Value::Timestamp(timestamp(raw, &field.column)?))
        }
        _ => None,
    })
}

/// RFC 3339 text (any offset, converted to UTC), ISO 8601 text without a zone
/// (read as UTC, as Feast's clients send it) or a number of seconds since the
/// Unix epoch, as UTC microseconds inside the supported range.
fn timestamp(raw: &Json, field: &str) -> Result<i64, Rejected> {
    let bad = |why: String| {
        Rejected::new(
            RejectReason::BadTimestamp,
            format!("field `{field}`: {why}"),
        )
    };
    let us = match raw {
        Json::String(text) => quiver_offline::parse_instant(text)
            .map_err(bad)?
            .timestamp_micros(),
        Json::Number(n) => {
            let seconds = n
                .as_f64()
                .ok_or_else(|| bad(format!("{n} is not a number of seconds")))?;
            // Saturates when out of range; the range check below refuses it.
            (seconds * 1e6).round() as i64
        }
        other => {
            return Err(bad(format!(
                "expected RFC 3339 text or epoch seconds, got {}",
                json_kind(other)
            )));
        }
    };
    if !ranges::timestamp_in_range(us) {
        return Err(Rejected::new(
            RejectReason::OutOfRange,
            format!("field `{field}`: {raw} is outside {TIMESTAMP_RANGE}"),
        ));
    }
    Ok(us)
}

#[cfg(test)]
mod tests {
    use quiver_core::{FeatureSpec, SourceKind};
    use serde_json::json;

    use super::*;

    fn decoder() -> RowDecoder {
        let view = FeatureViewSpec {
            name: "driver_stats".into(),
            entities: vec!["driver".into()],
            source: "batch".into(),
            stream_source: Some("events".into()),
            ttl: None,
            online: true,
            features: [
                "conv_rate:float32",
                "trips:int32",
                "tags:list<string>",
                "seen:timestamp",
            ]
            .iter()
            .map(|f| {
                let (name, dtype) = f.split_once(':').expect("name:type");
                FeatureSpec {
                    name: name.into(),
                    dtype: dtype.parse().expect("type"),
                    description: None,
                    checks: Vec::new(),
                }
            })
            .collect(),
            description: None,
            checks: Vec::new(),
            drift: None,
            tags: Default::default(),
        };
        let keys = [JoinKey {
            name: "driver_id".into(),
            dtype: ValueType::Scalar(ScalarType::Int64),
        }];
        let source = SourceSpec {
            name: "events".into(),
            kind: SourceKind::Push,
            timestamp_field: "ts".into(),
            created_timestamp_field: None,
            field_mapping: [("rate".to_string(), "conv_rate".to_string())].into(),
            description: None,
            tags: Default::default(),
        };
        RowDecoder::new(&view, &keys, &source)
    }

    fn reason(bytes: &[u8]) -> Option<RejectReason> {
        decoder().decode_bytes(bytes, None).err().map(|r| r.reason)
    }

    #[test]
    fn an_integer_key_takes_an_integral_float_and_refuses_a_fraction() {
        let row = decoder()
            .decode_bytes(br#"{"driver_id": 1001.0, "ts": 0}"#, None)
            .expect("decodes");
        assert_eq!(
            row.key.pairs(),
            &[("driver_id".to_string(), Value::Int64(1001))]
        );
        assert_eq!(
            reason(br#"{"driver_id": 1001.5, "ts": 0}"#),
            Some(RejectReason::WrongType)
        );
    }

    #[test]
    fn decodes_mapped_fields_types_and_time_zones() {
        let row = decoder()
            .decode_bytes(
                br#"{"driver_id": 7, "ts": "2024-01-01T02:00:00+02:00", "rate": 0.5, "trips": 3,
                     "tags": ["a", null], "seen": 1.5}"#,
                Some(42),
            )
            .expect("decodes");
        assert_eq!(
            row.key.pairs(),
            &[("driver_id".to_string(), Value::Int64(7))]
        );
        assert_eq!(row.event_ts, 1_704_067_200_000_000);
        assert_eq!(row.created_ts, Some(42));
        assert_eq!(
            row.values,
            vec![
                Value::Float32(0.5),
                Value::Int32(3),
                Value::List(vec![Value::String("a".into()), Value::Null]),
                Value::Timestamp(1_500_000),
            ]
        );
        let sparse = decoder()
            .decode(
                json!({"driver_id": 7, "ts": 0})
                    .as_object()
                    .expect("object"),
                None,
            )
            .expect("decodes");
        assert_eq!(sparse.values, vec![Value::Null; 4]);
    }

    #[test]
    fn every_reason_is_reported() {
        assert_eq!(reason(b"{not json"), Some(RejectReason::NotJson));
        assert_eq!(reason(b"[1, 2]"), Some(RejectReason::NotAnObject));
        assert_eq!(reason(br#"{"ts": 0}"#), Some(RejectReason::MissingKey));
        assert_eq!(
            reason(br#"{"driver_id": null, "ts": 0}"#),
            Some(RejectReason::MissingKey)
        );
        assert_eq!(
            reason(br#"{"driver_id": "x", "ts": 0}"#),
            Some(RejectReason::WrongType)
        );
        assert_eq!(
            reason(br#"{"driver_id": 1.5, "ts": 0}"#),
            Some(RejectReason::WrongType)
        );
        assert_eq!(
            reason(br#"{"driver_id": 1, "ts": 0, "trips": 1.5}"#),
            Some(RejectReason::WrongType)
        );
        assert_eq!(
            reason(br#"{"driver_id": 1, "ts": 0, "tags": [1]}"#),
            Some(RejectReason::WrongType)
        );
        assert_eq!(
            reason(br#"{"driver_id": 1}"#),
            Some(RejectReason::MissingTimestamp)
        );
        assert_eq!(
            reason(br#"{"driver_id": 1, "ts": "2024-01-01 soon"}"#),
            Some(RejectReason::BadTimestamp)
        );
        // pandas' missing time: null.
        assert_eq!(
            reason(br#"{"driver_id": 1, "ts": "NaT"}"#),
            Some(RejectReason::MissingTimestamp)
        );
        // Naive ISO text (what Feast's clients send) is UTC.
        assert_eq!(
            decoder()
                .decode_bytes(br#"{"driver_id": 1, "ts": "2024-01-01 00:00:00.5"}"#, None)
                .map(|row| row.event_ts),
            Ok(1_704_067_200_500_000)
        );
        assert_eq!(
            reason(br#"{"driver_id": 1, "ts": 1e300}"#),
            Some(RejectReason::OutOfRange)
        );
        assert_eq!(
            reason(br#"{"driver_id": 1, "ts": true}"#),
            Some(RejectReason::BadTimestamp)
        );
        assert_eq!(
            reason(br#"{"driver_id": 1, "ts": 0, "seen": "yesterday"}"#),
            Some(RejectReason::BadTimestamp)
        );
    }

    #[test]
    fn values_beyond_their_type_or_the_supported_range_are_refused() {
        let refused = |bytes: &[u8]| decoder().decode_bytes(bytes, None).err();
        let overflow = refused(br#"{"driver_id": 1, "ts": 0, "rate": 3.5e38}"#).expect("refused");
        assert_eq!(overflow.reason, RejectReason::OutOfRange);
        assert_eq!(
            overflow.detail,
            "field `rate` (feature `conv_rate`): 3.5e+38 is beyond float32's range (±3.4028235e38)"
        );
        for bytes in [
            &br#"{"driver_id": 1, "ts": 0, "rate": -3.5e38}"#[..],
            br#"{"driver_id": 1, "ts": 0, "trips": 3000000000}"#,
            br#"{"driver_id": 18446744073709551615, "ts": 0}"#,
            br#"{"driver_id": 1, "ts": "1677-09-21T00:12:43Z"}"#,
            br#"{"driver_id": 1, "ts": "0001-01-01T00:00:00Z"}"#,
            br#"{"driver_id": 1, "ts": 0, "seen": "0001-01-01T00:00:00Z"}"#,
        ] {
            let rejected = refused(bytes);
            assert_eq!(
                rejected.as_ref().map(|r| r.reason),
                Some(RejectReason::OutOfRange),
                "{}: {rejected:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let early = refused(br#"{"driver_id": 1, "ts": "0001-01-01T00:00:00Z"}"#).expect("refused");
        assert!(early.detail.contains("1684-07-28"), "{}", early.detail);
        // The largest float32 itself (as printed) and the range's edges are kept.
        let kept = decoder()
            .decode_bytes(
                br#"{"driver_id": 1, "ts": "2255-06-05T23:47:34Z", "rate": 3.4028235e38}"#,
                None,
            )
            .expect("decodes");
        assert_eq!(kept.values[0], Value::Float32(f32::MAX));
        assert!(
            decoder()
                .decode_bytes(br#"{"driver_id": 1, "ts": "1684-07-28T00:12:26Z"}"#, None)
                .is_ok()
        );
    }
}
