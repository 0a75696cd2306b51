//! The canonical, validated definitions: what the registry stores and hashes.
//!
//! These types carry no source positions, so the same definitions written in a
//! different file or order hash the same.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checks::{DriftSpec, FeatureCheck, ViewCheck};
use crate::dtype::ValueType;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinKey {
    pub name: String,
    pub dtype: ValueType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitySpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub join_keys: Vec<JoinKey>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Where a source's rows come from. Connection strings keep their `${VAR}`
/// references unexpanded so secrets never reach the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceKind {
    Parquet {
        /// A file, a directory (hive-style partitions allowed) or a glob, relative to the repo.
        path: String,
    },
    Postgres {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
    },
    Kafka {
        topic: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bootstrap_servers: Option<String>,
        format: MessageFormat,
    },
    Push,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageFormat {
    Json,
}

impl SourceKind {
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Parquet { .. } => "parquet",
            SourceKind::Postgres { .. } => "postgres",
            SourceKind::Kafka { .. } => "kafka",
            SourceKind::Push => "push",
        }
    }

    /// Batch sources can be materialized; the others only stream.
    pub fn is_batch(&self) -> bool {
        matches!(
            self,
            SourceKind::Parquet { .. } | SourceKind::Postgres { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    pub name: String,
    #[serde(flatten)]
    pub kind: SourceKind,
    pub timestamp_field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_timestamp_field: Option<String>,
    /// Source column name -> the name used in quiver (feature or join key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub field_mapping: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl SourceSpec {
    /// The source column that holds the quiver field `name` (after `field_mapping`).
    pub fn column_for<'a>(&'a self, name: &'a str) -> &'a str {
        self.field_mapping
            .iter()
            .find(|(_, to)| to.as_str() == name)
            .map(|(from, _)| from.as_str())
            .unwrap_or(name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    pub dtype: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Data-quality checks on this feature's values (none: nothing is checked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<FeatureCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureViewSpec {
    pub name: String,
    pub entities: Vec<String>,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_source: Option<String>,
    #[serde(default, with = "ttl_serde", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
    pub online: bool,
    pub features: Vec<FeatureSpec>,
    /// Data-quality checks on the view's rows as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<ViewCheck>,
    /// Thresholds of `quiver drift` for this view's features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl FeatureViewSpec {
    pub fn feature(&self, name: &str) -> Option<&FeatureSpec> {
        self.features.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureServiceSpec {
    pub name: String,
    /// As written: `view` (all its features) or `view:feature`.
    pub features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A whole validated feature repo.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepoSpec {
    pub project: String,
    pub entities: Vec<EntitySpec>,
    pub sources: Vec<SourceSpec>,
    pub feature_views: Vec<FeatureViewSpec>,
    pub feature_services: Vec<FeatureServiceSpec>,
}

impl RepoSpec {
    pub fn entity(&self, name: &str) -> Option<&EntitySpec> {
        self.entities.iter().find(|e| e.name == name)
    }
    pub fn source(&self, name: &str) -> Option<&SourceSpec> {
        self.sources.iter().find(|s| s.name == name)
    }
    pub fn feature_view(&self, name: &str) -> Option<&FeatureViewSpec> {
        self.feature_views.iter().find(|v| v.name == name)
    }

    /// The join keys of a view: those of its entities, in order.
    pub fn join_keys(&self, view: &FeatureViewSpec) -> Vec<JoinKey> {
        view.entities
            .iter()
            .filter_map(|name| self.entity(name))
            .flat_map(|e| e.join_keys.iter().cloned())
            .collect()
    }

    /// Every object as the registry stores it, in a stable order.
    pub fn objects(&self) -> Result<Vec<RegistryObject>, serde_json::Error> {
        let mut out = Vec::new();
        for e in &self.entities {
            out.push(RegistryObject::new(ObjectKind::Entity, &e.name, e)?);
        }
        for s in &self.sources {
            out.push(RegistryObject::new(ObjectKind::Source, &s.name, s)?);
        }
        for v in &self.feature_views {
            out.push(RegistryObject::new(ObjectKind::FeatureView, &v.name, v)?);
        }
        for s in &self.feature_services {
            out.push(RegistryObject::new(ObjectKind::FeatureService, &s.name, s)?);
        }
        Ok(out)
    }

    /// Rebuilds a repo from registry objects (the inverse of [`RepoSpec::objects`]).
    pub fn from_objects(
        project: &str,
        objects: &[RegistryObject],
    ) -> Result<Self, serde_json::Error> {
        let mut repo = RepoSpec {
            project: project.to_string(),
            ..Default::default()
        };
        for object in objects {
            let spec = object.spec.clone();
            match object.kind {
                ObjectKind::Entity => repo.entities.push(serde_json::from_value(spec)?),
                ObjectKind::Source => repo.sources.push(serde_json::from_value(spec)?),
                ObjectKind::FeatureView => repo.feature_views.push(serde_json::from_value(spec)?),
                ObjectKind::FeatureService => {
                    repo.feature_services.push(serde_json::from_value(spec)?)
                }
            }
        }
        Ok(repo)
    }
}

/// The kinds of objects a feature repo defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Entity,
    Source,
    FeatureView,
    FeatureService,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 4] = [
        ObjectKind::Entity,
        ObjectKind::Source,
        ObjectKind::FeatureView,
        ObjectKind::FeatureService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Entity => "entity",
            ObjectKind::Source => "source",
            ObjectKind::FeatureView => "feature_view",
            ObjectKind::FeatureService => "feature_service",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown object kind `{s}`"))
    }
}

/// One object as stored in the registry: its canonical JSON and a content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryObject {
    pub kind: ObjectKind,
    pub name: String,
    pub spec: serde_json::Value,
    pub hash: String,
}

impl RegistryObject {
    pub fn new<T: Serialize>(
        kind: ObjectKind,
        name: &str,
        spec: &T,
    ) -> Result<Self, serde_json::Error> {
        let spec = serde_json::to_value(spec)?;
        Ok(Self {
            kind,
            name: name.to_string(),
            hash: content_hash(&spec)?,
            spec,
        })
    }
}

/// SHA-256 of the canonical JSON (field order is fixed by the spec types).
pub fn content_hash(spec: &serde_json::Value) -> Result<String, serde_json::Error> {
    let bytes = serde_json::to_vec(spec)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

mod ttl_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ttl::{format_ttl, parse_ttl};

    pub fn serialize<S: Serializer>(ttl: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match ttl {
            Some(d) => s.serialize_str(&format_ttl(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| parse_ttl(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}
