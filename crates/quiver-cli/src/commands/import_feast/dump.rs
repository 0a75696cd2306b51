//! `feast registry-dump` output: one project's registry as protobuf JSON
//! (camelCase fields, enums by name, durations as `"86400s"`, bytes in base64,
//! default values left out).

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use super::model::{
    FeastDuration, FeastEntity, FeastField, FeastRegistry, FeastService, FeastSource, FeastView,
    OtherKind, OtherObject, Projection, SourceOptions, ViewKind,
};
use super::types;

/// Reads a registry dump; errors say which part is malformed.
pub fn parse(text: &str) -> Result<FeastRegistry, String> {
    let dump: Dump = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut registry = FeastRegistry {
        project: dump.project,
        ..Default::default()
    };
    registry.entities = dump.entities.into_iter().map(|e| e.spec.into()).collect();
    registry.data_sources = dump
        .data_sources
        .into_iter()
        .map(JsonSource::into_model)
        .collect::<Result<_, _>>()?;
    for (kind, views) in [
        (ViewKind::Feature, dump.feature_views),
        (ViewKind::Stream, dump.stream_feature_views),
    ] {
        for view in views {
            registry.feature_views.push(view.spec.into_model(kind)?);
        }
    }
    registry.feature_services = dump
        .feature_services
        .into_iter()
        .map(|s| s.spec.into())
        .collect();
    for (kind, objects) in [
        (OtherKind::OnDemandFeatureView, dump.on_demand_feature_views),
        (OtherKind::LabelView, dump.label_views),
        (OtherKind::SavedDataset, dump.saved_datasets),
        (OtherKind::ValidationReference, dump.validation_references),
        (OtherKind::Permission, dump.permissions),
    ] {
        registry
            .others
            .extend(objects.into_iter().map(|o| OtherObject {
                kind,
                name: o.name(),
            }));
    }
    Ok(registry)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dump {
    project: String,
    #[serde(default)]
    data_sources: Vec<JsonSource>,
    #[serde(default)]
    entities: Vec<Wrapped<JsonEntity>>,
    #[serde(default)]
    feature_views: Vec<Wrapped<JsonView>>,
    #[serde(default)]
    stream_feature_views: Vec<Wrapped<JsonView>>,
    #[serde(default)]
    feature_services: Vec<Wrapped<JsonService>>,
    #[serde(default)]
    on_demand_feature_views: Vec<JsonNamed>,
    #[serde(default)]
    label_views: Vec<JsonNamed>,
    #[serde(default)]
    saved_datasets: Vec<JsonNamed>,
    #[serde(default)]
    validation_references: Vec<JsonNamed>,
    #[serde(default)]
    permissions: Vec<JsonNamed>,
}

/// Most registry objects are `{"spec": ..., "meta": ...}`.
#[derive(Deserialize)]
struct Wrapped<T> {
    spec: T,
}

/// Any object, for its name: `spec.name`, or `name` (validation references).
#[derive(Deserialize)]
struct JsonNamed {
    #[serde(default)]
    spec: Option<NameOnly>,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct NameOnly {
    #[serde(default)]
    name: String,
}

impl JsonNamed {
    fn name(self) -> String {
        self.spec.map(|s| s.name).unwrap_or(self.name)
    }
}

/// A `ValueType`: by name, or by number for the types the protobuf enum lacks.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonValueType {
    Name(String),
    Code(i32),
}

fn value_type_code(value: Option<JsonValueType>) -> i32 {
    match value {
        None => 0,
        Some(JsonValueType::Code(code)) => code,
        // An unknown name keeps a number no type has, so it is refused by name.
        Some(JsonValueType::Name(name)) => types::code_of(&name).unwrap_or(-1),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonEntity {
    name: String,
    join_key: String,
    value_type: Option<JsonValueType>,
    description: String,
    tags: BTreeMap<String, String>,
    owner: String,
}

impl From<JsonEntity> for FeastEntity {
    fn from(e: JsonEntity) -> Self {
        FeastEntity {
            name: e.name,
            join_key: e.join_key,
            value_type: value_type_code(e.value_type),
            description: e.description,
            tags: e.tags,
            owner: e.owner,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonSource {
    name: String,
    #[serde(rename = "type")]
    source_type: String,
    timestamp_field: String,
    created_timestamp_column: String,
    field_mapping: BTreeMap<String, String>,
    description: String,
    tags: BTreeMap<String, String>,
    owner: String,
    data_source_class_type: String,
    batch_source: Option<Box<JsonSource>>,
    file_options: Option<JsonFileOptions>,
    kafka_options: Option<JsonKafkaOptions>,
    custom_options: Option<JsonCustomOptions>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonFileOptions {
    uri: String,
    file_format: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonKafkaOptions {
    kafka_bootstrap_servers: String,
    topic: String,
    message_format: Option<BTreeMap<String, serde_json::Value>>,
    watermark_delay_threshold: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonCustomOptions {
    configuration: String,
}

impl JsonSource {
    fn into_model(self) -> Result<FeastSource, String> {
        let name = self.name;
        let context = |e: String| format!("data source {name}: {e}");
        let options = match self.source_type.as_str() {
            "BATCH_FILE" => {
                let file = self.file_options.unwrap_or_default();
                SourceOptions::File {
                    uri: file.uri,
                    table_format: format_name(file.file_format.as_ref(), "parquetFormat"),
                }
            }
            "STREAM_KAFKA" => {
                let kafka = self.kafka_options.unwrap_or_default();
                SourceOptions::Kafka {
                    bootstrap_servers: kafka.kafka_bootstrap_servers,
                    topic: kafka.topic,
                    format: format_name(kafka.message_format.as_ref(), ""),
                    watermark_delay: kafka
                        .watermark_delay_threshold
                        .as_deref()
                        .map(FeastDuration::parse_json)
                        .transpose()
                        .map_err(context)?,
                }
            }
            "PUSH_SOURCE" => SourceOptions::Push,
            "CUSTOM_SOURCE" => {
                let encoded = self.custom_options.unwrap_or_default().configuration;
                let configuration = base64::engine::general_purpose::STANDARD
                    .decode(&encoded)
                    .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&encoded))
                    .map_err(|e| context(format!("customOptions.configuration: {e}")))?;
                SourceOptions::Custom {
                    class: self.data_source_class_type,
                    configuration,
                }
            }
            "" | "INVALID" => SourceOptions::Invalid,
            other => SourceOptions::Other(other.to_string()),
        };
        let batch_source = self
            .batch_source
            .map(|b| b.into_model().map(Box::new))
            .transpose()?;
        Ok(FeastSource {
            name,
            options,
            timestamp_field: self.timestamp_field,
            created_timestamp_column: self.created_timestamp_column,
            field_mapping: self.field_mapping,
            description: self.description,
            tags: self.tags,
            owner: self.owner,
            batch_source,
        })
    }
}

/// The name of the one format set in a `oneof` (`{"deltaFormat": {}}` is
/// `delta`), or `None` when none is set or it is `default`.
fn format_name(
    formats: Option<&BTreeMap<String, serde_json::Value>>,
    default: &str,
) -> Option<&'static str> {
    let key = formats?.keys().next()?;
    if key == default {
        return None;
    }
    Some(match key.as_str() {
        "parquetFormat" => "parquet",
        "deltaFormat" => "delta",
        "jsonFormat" => "json",
        "avroFormat" => "avro",
        "protoFormat" => "proto",
        _ => "unknown",
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonField {
    name: String,
    value_type: Option<JsonValueType>,
    description: String,
    tags: BTreeMap<String, String>,
    vector_index: bool,
}

impl From<JsonField> for FeastField {
    fn from(f: JsonField) -> Self {
        FeastField {
            name: f.name,
            value_type: value_type_code(f.value_type),
            description: f.description,
            tags: f.tags,
            vector_index: f.vector_index,
        }
    }
}

fn fields(fields: Vec<JsonField>) -> Vec<FeastField> {
    fields.into_iter().map(FeastField::from).collect()
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonView {
    name: String,
    entities: Vec<String>,
    entity_columns: Vec<JsonField>,
    features: Vec<JsonField>,
    ttl: Option<String>,
    batch_source: Option<JsonSource>,
    stream_source: Option<JsonSource>,
    online: bool,
    description: String,
    tags: BTreeMap<String, String>,
    owner: String,
    feature_transformation: Option<JsonTransformation>,
    user_defined_function: Option<JsonUdf>,
    aggregations: Vec<JsonAggregation>,
    source_views: Vec<NameOnly>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonTransformation {
    user_defined_function: Option<JsonUdf>,
    substrait_transformation: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonUdf {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonAggregation {
    column: String,
    function: String,
    time_window: Option<String>,
}

impl JsonView {
    fn into_model(self, kind: ViewKind) -> Result<FeastView, String> {
        let name = self.name;
        let context = |e: String| format!("{} {name}: {e}", kind.label());
        let transformation = match self.feature_transformation {
            Some(JsonTransformation {
                user_defined_function: Some(udf),
                ..
            }) => Some(udf.name),
            Some(JsonTransformation {
                substrait_transformation: Some(_),
                ..
            }) => Some("a Substrait plan".to_string()),
            _ => self.user_defined_function.map(|udf| udf.name),
        };
        Ok(FeastView {
            kind,
            entities: self.entities,
            entity_columns: fields(self.entity_columns),
            features: fields(self.features),
            ttl: self
                .ttl
                .as_deref()
                .map(FeastDuration::parse_json)
                .transpose()
                .map_err(context)?,
            batch_source: self.batch_source.map(JsonSource::into_model).transpose()?,
            stream_source: self.stream_source.map(JsonSource::into_model).transpose()?,
            online: self.online,
            description: self.description,
            tags: self.tags,
            owner: self.owner,
            transformation,
            aggregations: self
                .aggregations
                .into_iter()
                .map(|a| {
                    let window = a.time_window.unwrap_or_else(|| "0s".into());
                    format!("{}({}) over {window}", a.function, a.column)
                })
                .collect(),
            source_views: self.source_views.into_iter().map(|v| v.name).collect(),
            name,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonService {
    name: String,
    features: Vec<JsonProjection>,
    description: String,
    tags: BTreeMap<String, String>,
    owner: String,
    logging_config: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonProjection {
    feature_view_name: String,
    feature_view_name_alias: String,
    feature_columns: Vec<JsonField>,
    join_key_map: BTreeMap<String, String>,
}

impl From<JsonService> for FeastService {
    fn from(s: JsonService) -> Self {
        FeastService {
            name: s.name,
            projections: s
                .features
                .into_iter()
                .map(|p| Projection {
                    view: p.feature_view_name,
                    alias: p.feature_view_name_alias,
                    features: p.feature_columns.into_iter().map(|f| f.name).collect(),
                    join_key_map: p.join_key_map,
                })
                .collect(),
            description: s.description,
            tags: s.tags,
            owner: s.owner,
            logging: s.logging_config.is_some(),
        }
    }
}
