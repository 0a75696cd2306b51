//! Definition files as written, with the position of every value.

use std::collections::BTreeMap;

use marked_yaml::Spanned;
use serde::Deserialize;

pub(crate) type S = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefinitionsFile {
    #[serde(default)]
    pub entities: Vec<Spanned<RawEntity>>,
    #[serde(default)]
    pub sources: Vec<Spanned<RawSource>>,
    #[serde(default)]
    pub feature_views: Vec<Spanned<RawFeatureView>>,
    #[serde(default)]
    pub feature_services: Vec<Spanned<RawFeatureService>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntity {
    pub name: S,
    pub join_keys: Spanned<Vec<Spanned<RawJoinKey>>>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJoinKey {
    pub name: S,
    pub dtype: S,
}

/// One flat shape for every kind, so each field keeps its own position and a
/// field given to the wrong kind gets a precise message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub name: S,
    pub kind: S,
    pub path: Option<S>,
    pub url: Option<S>,
    pub table: Option<S>,
    pub query: Option<S>,
    pub topic: Option<S>,
    pub bootstrap_servers: Option<S>,
    pub format: Option<S>,
    pub timestamp_field: Option<S>,
    pub created_timestamp_field: Option<S>,
    pub field_mapping: Option<Spanned<BTreeMap<String, String>>>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeatureView {
    pub name: S,
    pub entities: Spanned<Vec<S>>,
    pub source: S,
    pub stream_source: Option<S>,
    pub ttl: Option<S>,
    pub online: Option<bool>,
    pub features: Spanned<Vec<Spanned<RawFeature>>>,
    pub checks: Option<Vec<Spanned<RawCheck>>>,
    pub drift: Option<RawDrift>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Drift thresholds as written (typed in `checks`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDrift {
    pub psi: Option<S>,
    pub ks: Option<S>,
    pub chi_square_p: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeature {
    pub name: S,
    pub dtype: S,
    pub checks: Option<Vec<Spanned<RawCheck>>>,
    pub description: Option<String>,
}

/// A data-quality check as written (typed in `checks`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub check: S,
    pub value: Option<S>,
    pub values: Option<Spanned<Vec<S>>>,
    pub pattern: Option<S>,
    pub policy: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeatureService {
    pub name: S,
    pub features: Spanned<Vec<S>>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}
