//! The part of a Feast registry the import reads, whichever form it came in
//! (`feast registry-dump` JSON or the registry file's protobuf).

use std::collections::BTreeMap;

/// One Feast project's objects.
#[derive(Debug, Default)]
pub struct FeastRegistry {
    pub project: String,
    pub entities: Vec<FeastEntity>,
    pub data_sources: Vec<FeastSource>,
    /// Feature views and stream feature views.
    pub feature_views: Vec<FeastView>,
    pub feature_services: Vec<FeastService>,
    /// Objects quiver has no counterpart for, kept only to name them.
    pub others: Vec<OtherObject>,
}

#[derive(Debug, Default)]
pub struct FeastEntity {
    pub name: String,
    pub join_key: String,
    /// Feast's `ValueType` number; 0 when the entity declares none.
    pub value_type: i32,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub owner: String,
}

#[derive(Debug, Default)]
pub struct FeastSource {
    pub name: String,
    pub options: SourceOptions,
    pub timestamp_field: String,
    pub created_timestamp_column: String,
    /// Source column -> feature name.
    pub field_mapping: BTreeMap<String, String>,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub owner: String,
    /// A push or Kafka source's batch source.
    pub batch_source: Option<Box<FeastSource>>,
}

/// What kind of source, with the options the import reads.
#[derive(Debug, Default)]
pub enum SourceOptions {
    File {
        uri: String,
        /// `None`: Parquet (Feast's default).
        table_format: Option<&'static str>,
    },
    Kafka {
        bootstrap_servers: String,
        topic: String,
        /// `json`, `avro`, `proto`, or `None` when the source names none.
        format: Option<&'static str>,
        watermark_delay: Option<FeastDuration>,
    },
    Push,
    /// `CUSTOM_SOURCE`: the Python class and its serialized options
    /// (PostgreSQLSource keeps `{"name", "query", "table"}` there).
    Custom {
        class: String,
        configuration: Vec<u8>,
    },
    /// Any other kind, by Feast's `SourceType` name (BATCH_BIGQUERY, REQUEST_SOURCE, ...).
    Other(String),
    #[default]
    Invalid,
}

/// A `google.protobuf.Duration`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeastDuration {
    pub seconds: i64,
    pub nanos: i32,
}

#[derive(Debug, Default)]
pub struct FeastField {
    pub name: String,
    pub value_type: i32,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub vector_index: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ViewKind {
    #[default]
    Feature,
    Stream,
}

impl ViewKind {
    pub fn label(self) -> &'static str {
        match self {
            ViewKind::Feature => "feature view",
            ViewKind::Stream => "stream feature view",
        }
    }
}

#[derive(Debug, Default)]
pub struct FeastView {
    pub kind: ViewKind,
    pub name: String,
    pub entities: Vec<String>,
    /// The join key columns with the types Feast inferred or was given.
    pub entity_columns: Vec<FeastField>,
    pub features: Vec<FeastField>,
    /// `None` when unset; Feast reads unset and zero alike, as "forever".
    pub ttl: Option<FeastDuration>,
    pub batch_source: Option<FeastSource>,
    pub stream_source: Option<FeastSource>,
    pub online: bool,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub owner: String,
    /// The name of a Python (or Substrait) transformation, when there is one.
    pub transformation: Option<String>,
    /// Stream feature views' windowed aggregations, as `function(column) over window`.
    pub aggregations: Vec<String>,
    /// Views this one is computed from (Feast's batch feature view chains).
    pub source_views: Vec<String>,
}

#[derive(Debug, Default)]
pub struct FeastService {
    pub name: String,
    pub projections: Vec<Projection>,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub owner: String,
    pub logging: bool,
}

/// A service's selection of one view's features.
#[derive(Debug, Default)]
pub struct Projection {
    pub view: String,
    pub alias: String,
    pub features: Vec<String>,
    pub join_key_map: BTreeMap<String, String>,
}

/// An object of a kind the import does not convert (on-demand feature view,
/// label view, saved dataset, permission, ...).
#[derive(Debug)]
pub struct OtherObject {
    pub kind: OtherKind,
    pub name: String,
}

/// In the order `feast registry-dump` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OtherKind {
    OnDemandFeatureView,
    LabelView,
    SavedDataset,
    ValidationReference,
    Permission,
}

impl FeastDuration {
    /// Parses protobuf JSON's `"86400s"` / `"1.500s"` / `"-2s"`.
    pub fn parse_json(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a protobuf duration (like \"86400s\")");
        let number = text.strip_suffix('s').ok_or_else(bad)?;
        let (negative, number) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty()
            || fraction.len() > 9
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let seconds: i64 = whole.parse().map_err(|_| bad())?;
        let nanos: i32 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<9}").parse().map_err(|_| bad())?
        };
        Ok(if negative {
            FeastDuration {
                seconds: -seconds,
                nanos: -nanos,
            }
        } else {
            FeastDuration { seconds, nanos }
        })
    }

    /// As protobuf JSON writes it, for messages.
    pub fn text(self) -> String {
        if self.nanos == 0 {
            format!("{}s", self.seconds)
        } else {
            let sign = if self.seconds < 0 || self.nanos < 0 {
                "-"
            } else {
                ""
            };
            let fraction = format!("{:09}", self.nanos.unsigned_abs());
            format!(
                "{sign}{}.{}s",
                self.seconds.unsigned_abs(),
                fraction.trim_end_matches('0')
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_protobuf_json_durations() {
        let d = |text| FeastDuration::parse_json(text).unwrap();
        assert_eq!(
            d("86400s"),
            FeastDuration {
                seconds: 86_400,
                nanos: 0
            }
        );
        assert_eq!(d("0s"), FeastDuration::default());
        assert_eq!(
            d("1.500s"),
            FeastDuration {
                seconds: 1,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            d("-2.5s"),
            FeastDuration {
                seconds: -2,
                nanos: -500_000_000
            }
        );
        assert_eq!(d("1.500s").text(), "1.5s");
        assert_eq!(d("-2.5s").text(), "-2.5s");
        assert_eq!(d("7200s").text(), "7200s");
        for bad in ["", "86400", "1.2.3s", "xs", "1.0000000001s", "s"] {
            assert!(FeastDuration::parse_json(bad).is_err(), "{bad}");
        }
    }
}
