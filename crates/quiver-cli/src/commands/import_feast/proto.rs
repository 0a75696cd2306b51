//! Feast's registry file (`registry.db` of a file registry): one serialized
//! `feast.core.Registry` message. Only the fields the import reads are
//! declared; the field numbers are those of Feast's .proto files
//! (feast/protos/feast/core/*.proto in the feast wheel). Everything else is
//! skipped by prost as unknown fields.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

use super::model::{
    FeastDuration, FeastEntity, FeastField, FeastRegistry, FeastService, FeastSource, FeastView,
    OtherKind, OtherObject, Projection, SourceOptions, ViewKind,
};

/// Decodes a registry file and keeps the objects of `project` (needed when
/// the file holds several projects).
pub fn parse(bytes: &[u8], project: Option<&str>) -> Result<FeastRegistry, String> {
    let registry = Registry::decode(bytes).map_err(|e| e.to_string())?;
    let project = choose_project(&registry, project)?;
    let mine = |p: &str| p == project;

    let mut out = FeastRegistry {
        project: project.clone(),
        ..Default::default()
    };
    for entity in registry.entities {
        let spec = entity.spec.unwrap_or_default();
        if mine(&spec.project) {
            out.entities.push(FeastEntity {
                name: spec.name,
                join_key: spec.join_key,
                value_type: spec.value_type,
                description: spec.description,
                tags: spec.tags,
                owner: spec.owner,
            });
        }
    }
    for source in registry.data_sources {
        if mine(&source.project) {
            out.data_sources.push(source.into_model());
        }
    }
    for view in registry.feature_views {
        let spec = view.spec.unwrap_or_default();
        if mine(&spec.project) {
            out.feature_views.push(spec.into_model());
        }
    }
    for view in registry.stream_feature_views {
        let spec = view.spec.unwrap_or_default();
        if mine(&spec.project) {
            out.feature_views.push(spec.into_model());
        }
    }
    for service in registry.feature_services {
        let spec = service.spec.unwrap_or_default();
        if mine(&spec.project) {
            out.feature_services.push(spec.into_model());
        }
    }
    let others = [
        (
            OtherKind::OnDemandFeatureView,
            registry.on_demand_feature_views,
        ),
        (OtherKind::LabelView, registry.label_views),
        (OtherKind::SavedDataset, registry.saved_datasets),
        (OtherKind::Permission, registry.permissions),
    ];
    for (kind, objects) in others {
        for object in objects {
            let spec = object.spec.unwrap_or_default();
            if mine(&spec.project) {
                out.others.push(OtherObject {
                    kind,
                    name: spec.name,
                });
            }
        }
    }
    for reference in registry.validation_references {
        if mine(&reference.project) {
            out.others.push(OtherObject {
                kind: OtherKind::ValidationReference,
                name: reference.name,
            });
        }
    }
    // registry-dump lists each kind by name; so does the import.
    out.entities.sort_by(|a, b| a.name.cmp(&b.name));
    out.data_sources.sort_by(|a, b| a.name.cmp(&b.name));
    out.feature_views
        .sort_by(|a, b| (a.kind as u8, &a.name).cmp(&(b.kind as u8, &b.name)));
    out.feature_services.sort_by(|a, b| a.name.cmp(&b.name));
    out.others
        .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    Ok(out)
}

/// The project to import: the one asked for, or the only one there is.
fn choose_project(registry: &Registry, wanted: Option<&str>) -> Result<String, String> {
    let mut projects = BTreeSet::new();
    projects.extend(
        registry
            .projects
            .iter()
            .filter_map(|p| p.spec.as_ref())
            .map(|s| s.name.clone()),
    );
    projects.extend(registry.project_metadata.iter().map(|m| m.project.clone()));
    projects.extend(
        registry
            .entities
            .iter()
            .filter_map(|e| e.spec.as_ref())
            .map(|s| s.project.clone()),
    );
    projects.extend(registry.data_sources.iter().map(|s| s.project.clone()));
    projects.extend(
        registry
            .feature_views
            .iter()
            .filter_map(|v| v.spec.as_ref())
            .map(|s| s.project.clone()),
    );
    projects.extend(
        registry
            .feature_services
            .iter()
            .filter_map(|v| v.spec.as_ref())
            .map(|s| s.project.clone()),
    );
    projects.remove("");
    let listed = || projects.iter().cloned().collect::<Vec<_>>().join(", ");
    match wanted {
        Some(name) if projects.contains(name) => Ok(name.to_string()),
        Some(name) => Err(format!(
            "the registry holds no project `{name}` (it holds: {})",
            listed()
        )),
        None if projects.len() == 1 => Ok(projects.iter().next().cloned().unwrap_or_default()),
        None if projects.is_empty() => Err("the registry holds no project".to_string()),
        None => Err(format!(
            "the registry holds several projects ({}); choose one with --project",
            listed()
        )),
    }
}

#[derive(Clone, PartialEq, Message)]
struct Registry {
    #[prost(message, repeated, tag = "1")]
    entities: Vec<Entity>,
    #[prost(message, repeated, tag = "6")]
    feature_views: Vec<FeatureView>,
    #[prost(message, repeated, tag = "7")]
    feature_services: Vec<FeatureService>,
    #[prost(message, repeated, tag = "8")]
    on_demand_feature_views: Vec<NamedObject>,
    #[prost(message, repeated, tag = "11")]
    saved_datasets: Vec<NamedObject>,
    #[prost(message, repeated, tag = "12")]
    data_sources: Vec<DataSource>,
    #[prost(message, repeated, tag = "13")]
    validation_references: Vec<ValidationReference>,
    #[prost(message, repeated, tag = "14")]
    stream_feature_views: Vec<StreamFeatureView>,
    #[prost(message, repeated, tag = "15")]
    project_metadata: Vec<ProjectMetadata>,
    #[prost(message, repeated, tag = "16")]
    permissions: Vec<NamedObject>,
    #[prost(message, repeated, tag = "17")]
    projects: Vec<Project>,
    #[prost(message, repeated, tag = "19")]
    label_views: Vec<NamedObject>,
}

/// `{spec: {name = 1, project = 2}}`: on-demand and label views, saved
/// datasets, permissions.
#[derive(Clone, PartialEq, Message)]
struct NamedObject {
    #[prost(message, optional, tag = "1")]
    spec: Option<NameAndProject>,
}

#[derive(Clone, PartialEq, Message)]
struct NameAndProject {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    project: String,
}

#[derive(Clone, PartialEq, Message)]
struct ValidationReference {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "3")]
    project: String,
}

#[derive(Clone, PartialEq, Message)]
struct ProjectMetadata {
    #[prost(string, tag = "1")]
    project: String,
}

#[derive(Clone, PartialEq, Message)]
struct Project {
    #[prost(message, optional, tag = "1")]
    spec: Option<ProjectSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct ProjectSpec {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct Entity {
    #[prost(message, optional, tag = "1")]
    spec: Option<EntitySpec>,
}

#[derive(Clone, PartialEq, Message)]
struct EntitySpec {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int32, tag = "2")]
    value_type: i32,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "4")]
    join_key: String,
    #[prost(btree_map = "string, string", tag = "8")]
    tags: BTreeMap<String, String>,
    #[prost(string, tag = "9")]
    project: String,
    #[prost(string, tag = "10")]
    owner: String,
}

#[derive(Clone, PartialEq, Message)]
struct Duration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

impl From<Duration> for FeastDuration {
    fn from(d: Duration) -> Self {
        FeastDuration {
            seconds: d.seconds,
            nanos: d.nanos,
        }
    }
}

#[derive(Clone, PartialEq, Message)]
struct DataSource {
    #[prost(int32, tag = "1")]
    source_type: i32,
    #[prost(btree_map = "string, string", tag = "2")]
    field_mapping: BTreeMap<String, String>,
    #[prost(string, tag = "3")]
    timestamp_field: String,
    #[prost(string, tag = "5")]
    created_timestamp_column: String,
    #[prost(string, tag = "17")]
    data_source_class_type: String,
    #[prost(string, tag = "20")]
    name: String,
    #[prost(string, tag = "21")]
    project: String,
    #[prost(string, tag = "23")]
    description: String,
    #[prost(btree_map = "string, string", tag = "24")]
    tags: BTreeMap<String, String>,
    #[prost(string, tag = "25")]
    owner: String,
    #[prost(message, optional, boxed, tag = "26")]
    batch_source: Option<Box<DataSource>>,
    #[prost(message, optional, tag = "11")]
    file_options: Option<FileOptions>,
    #[prost(message, optional, tag = "13")]
    kafka_options: Option<KafkaOptions>,
    #[prost(message, optional, tag = "16")]
    custom_options: Option<CustomSourceOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct FileOptions {
    #[prost(message, optional, tag = "1")]
    file_format: Option<FileFormat>,
    #[prost(string, tag = "2")]
    uri: String,
}

/// `oneof format { ParquetFormat parquet_format = 1; DeltaFormat delta_format = 2; }`
#[derive(Clone, PartialEq, Message)]
struct FileFormat {
    #[prost(message, optional, tag = "1")]
    parquet_format: Option<Empty>,
    #[prost(message, optional, tag = "2")]
    delta_format: Option<Empty>,
}

#[derive(Clone, PartialEq, Message)]
struct Empty {}

#[derive(Clone, PartialEq, Message)]
struct KafkaOptions {
    #[prost(string, tag = "1")]
    kafka_bootstrap_servers: String,
    #[prost(string, tag = "2")]
    topic: String,
    #[prost(message, optional, tag = "3")]
    message_format: Option<StreamFormat>,
    #[prost(message, optional, tag = "4")]
    watermark_delay_threshold: Option<Duration>,
}

/// `oneof format { avro_format = 1; proto_format = 2; json_format = 3; }`
#[derive(Clone, PartialEq, Message)]
struct StreamFormat {
    #[prost(message, optional, tag = "1")]
    avro_format: Option<Empty>,
    #[prost(message, optional, tag = "2")]
    proto_format: Option<Empty>,
    #[prost(message, optional, tag = "3")]
    json_format: Option<Empty>,
}

#[derive(Clone, PartialEq, Message)]
struct CustomSourceOptions {
    #[prost(bytes = "vec", tag = "1")]
    configuration: Vec<u8>,
}

/// `DataSource.SourceType` names, by number.
fn source_type_name(code: i32) -> &'static str {
    match code {
        1 => "BATCH_FILE",
        2 => "BATCH_BIGQUERY",
        3 => "STREAM_KAFKA",
        4 => "STREAM_KINESIS",
        5 => "BATCH_REDSHIFT",
        6 => "CUSTOM_SOURCE",
        7 => "REQUEST_SOURCE",
        8 => "BATCH_SNOWFLAKE",
        9 => "PUSH_SOURCE",
        10 => "BATCH_TRINO",
        11 => "BATCH_SPARK",
        12 => "BATCH_ATHENA",
        13 => "BATCH_ICEBERG",
        _ => "INVALID",
    }
}

impl DataSource {
    fn into_model(self) -> FeastSource {
        let options = match source_type_name(self.source_type) {
            "BATCH_FILE" => {
                let file = self.file_options.unwrap_or_default();
                let delta = file.file_format.is_some_and(|f| f.delta_format.is_some());
                SourceOptions::File {
                    uri: file.uri,
                    table_format: delta.then_some("delta"),
                }
            }
            "STREAM_KAFKA" => {
                let kafka = self.kafka_options.unwrap_or_default();
                let format = kafka.message_format.map(|f| {
                    if f.json_format.is_some() {
                        "json"
                    } else if f.avro_format.is_some() {
                        "avro"
                    } else if f.proto_format.is_some() {
                        "proto"
                    } else {
                        "unknown"
                    }
                });
                SourceOptions::Kafka {
                    bootstrap_servers: kafka.kafka_bootstrap_servers,
                    topic: kafka.topic,
                    format,
                    watermark_delay: kafka.watermark_delay_threshold.map(Into::into),
                }
            }
            "PUSH_SOURCE" => SourceOptions::Push,
            "CUSTOM_SOURCE" => SourceOptions::Custom {
                class: self.data_source_class_type,
                configuration: self.custom_options.unwrap_or_default().configuration,
            },
            "INVALID" => SourceOptions::Invalid,
            other => SourceOptions::Other(other.to_string()),
        };
        FeastSource {
            name: self.name,
            options,
            timestamp_field: self.timestamp_field,
            created_timestamp_column: self.created_timestamp_column,
            field_mapping: self.field_mapping,
            description: self.description,
            tags: self.tags,
            owner: self.owner,
            batch_source: self.batch_source.map(|b| Box::new(b.into_model())),
        }
    }
}

#[derive(Clone, PartialEq, Message)]
struct FeatureSpec {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int32, tag = "2")]
    value_type: i32,
    #[prost(btree_map = "string, string", tag = "3")]
    tags: BTreeMap<String, String>,
    #[prost(string, tag = "4")]
    description: String,
    #[prost(bool, tag = "5")]
    vector_index: bool,
}

fn fields(specs: Vec<FeatureSpec>) -> Vec<FeastField> {
    specs
        .into_iter()
        .map(|f| FeastField {
            name: f.name,
            value_type: f.value_type,
            description: f.description,
            tags: f.tags,
            vector_index: f.vector_index,
        })
        .collect()
}

/// `oneof transformation { user_defined_function = 1; substrait_transformation = 2; }`
#[derive(Clone, PartialEq, Message)]
struct FeatureTransformation {
    #[prost(message, optional, tag = "1")]
    user_defined_function: Option<UserDefinedFunction>,
    #[prost(message, optional, tag = "2")]
    substrait_transformation: Option<Empty>,
}

#[derive(Clone, PartialEq, Message)]
struct UserDefinedFunction {
    #[prost(string, tag = "1")]
    name: String,
}

impl FeatureTransformation {
    fn name(self) -> Option<String> {
        match (self.user_defined_function, self.substrait_transformation) {
            (Some(udf), _) => Some(udf.name),
            (None, Some(_)) => Some("a Substrait plan".to_string()),
            (None, None) => None,
        }
    }
}

#[derive(Clone, PartialEq, Message)]
struct FeatureView {
    #[prost(message, optional, tag = "1")]
    spec: Option<FeatureViewSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct FeatureViewSpec {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    project: String,
    #[prost(string, repeated, tag = "3")]
    entities: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    features: Vec<FeatureSpec>,
    #[prost(btree_map = "string, string", tag = "5")]
    tags: BTreeMap<String, String>,
    #[prost(message, optional, tag = "6")]
    ttl: Option<Duration>,
    #[prost(message, optional, tag = "7")]
    batch_source: Option<DataSource>,
    #[prost(bool, tag = "8")]
    online: bool,
    #[prost(message, optional, tag = "9")]
    stream_source: Option<DataSource>,
    #[prost(string, tag = "10")]
    description: String,
    #[prost(string, tag = "11")]
    owner: String,
    #[prost(message, repeated, tag = "12")]
    entity_columns: Vec<FeatureSpec>,
    #[prost(message, repeated, tag = "14")]
    source_views: Vec<NameAndProject>,
    #[prost(message, optional, tag = "15")]
    feature_transformation: Option<FeatureTransformation>,
}

impl FeatureViewSpec {
    fn into_model(self) -> FeastView {
        FeastView {
            kind: ViewKind::Feature,
            name: self.name,
            entities: self.entities,
            entity_columns: fields(self.entity_columns),
            features: fields(self.features),
            ttl: self.ttl.map(Into::into),
            batch_source: self.batch_source.map(DataSource::into_model),
            stream_source: self.stream_source.map(DataSource::into_model),
            online: self.online,
            description: self.description,
            tags: self.tags,
            owner: self.owner,
            transformation: self
                .feature_transformation
                .and_then(FeatureTransformation::name),
            aggregations: Vec::new(),
            source_views: self.source_views.into_iter().map(|v| v.name).collect(),
        }
    }
}

#[derive(Clone, PartialEq, Message)]
struct StreamFeatureView {
    #[prost(message, optional, tag = "1")]
    spec: Option<StreamFeatureViewSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct StreamFeatureViewSpec {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    project: String,
    #[prost(string, repeated, tag = "3")]
    entities: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    features: Vec<FeatureSpec>,
    #[prost(message, repeated, tag = "5")]
    entity_columns: Vec<FeatureSpec>,
    #[prost(string, tag = "6")]
    description: String,
    #[prost(btree_map = "string, string", tag = "7")]
    tags: BTreeMap<String, String>,
    #[prost(string, tag = "8")]
    owner: String,
    #[prost(message, optional, tag = "9")]
    ttl: Option<Duration>,
    #[prost(message, optional, tag = "10")]
    batch_source: Option<DataSource>,
    #[prost(message, optional, tag = "11")]
    stream_source: Option<DataSource>,
    #[prost(bool, tag = "12")]
    online: bool,
    #[prost(message, optional, tag = "13")]
    user_defined_function: Option<UserDefinedFunction>,
    #[prost(message, repeated, tag = "15")]
    aggregations: Vec<Aggregation>,
    #[prost(message, optional, tag = "17")]
    feature_transformation: Option<FeatureTransformation>,
}

#[derive(Clone, PartialEq, Message)]
struct Aggregation {
    #[prost(string, tag = "1")]
    column: String,
    #[prost(string, tag = "2")]
    function: String,
    #[prost(message, optional, tag = "3")]
    time_window: Option<Duration>,
}

impl StreamFeatureViewSpec {
    fn into_model(self) -> FeastView {
        let transformation = self
            .feature_transformation
            .and_then(FeatureTransformation::name)
            .or(self.user_defined_function.map(|udf| udf.name));
        FeastView {
            kind: ViewKind::Stream,
            name: self.name,
            entities: self.entities,
            entity_columns: fields(self.entity_columns),
            features: fields(self.features),
            ttl: self.ttl.map(Into::into),
            batch_source: self.batch_source.map(DataSource::into_model),
            stream_source: self.stream_source.map(DataSource::into_model),
            online: self.online,
            description: self.description,
            tags: self.tags,
            owner: self.owner,
            transformation,
            aggregations: self
                .aggregations
                .into_iter()
                .map(|a| {
                    let window = FeastDuration::from(a.time_window.unwrap_or_default());
                    format!("{}({}) over {}", a.function, a.column, window.text())
                })
                .collect(),
            source_views: Vec::new(),
        }
    }
}

#[derive(Clone, PartialEq, Message)]
struct FeatureService {
    #[prost(message, optional, tag = "1")]
    spec: Option<FeatureServiceSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct FeatureServiceSpec {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    project: String,
    #[prost(message, repeated, tag = "3")]
    features: Vec<FeatureViewProjection>,
    #[prost(btree_map = "string, string", tag = "4")]
    tags: BTreeMap<String, String>,
    #[prost(string, tag = "5")]
    description: String,
    #[prost(string, tag = "6")]
    owner: String,
    #[prost(message, optional, tag = "7")]
    logging_config: Option<Empty>,
}

#[derive(Clone, PartialEq, Message)]
struct FeatureViewProjection {
    #[prost(string, tag = "1")]
    feature_view_name: String,
    #[prost(message, repeated, tag = "2")]
    feature_columns: Vec<FeatureSpec>,
    #[prost(string, tag = "3")]
    feature_view_name_alias: String,
    #[prost(btree_map = "string, string", tag = "4")]
    join_key_map: BTreeMap<String, String>,
}

impl FeatureServiceSpec {
    fn into_model(self) -> FeastService {
        FeastService {
            name: self.name,
            projections: self
                .features
                .into_iter()
                .map(|p| Projection {
                    view: p.feature_view_name,
                    alias: p.feature_view_name_alias,
                    features: p.feature_columns.into_iter().map(|f| f.name).collect(),
                    join_key_map: p.join_key_map,
                })
                .collect(),
            description: self.description,
            tags: self.tags,
            owner: self.owner,
            logging: self.logging_config.is_some(),
        }
    }
}
