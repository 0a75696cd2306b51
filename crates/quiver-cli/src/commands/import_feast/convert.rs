//! Feast's objects as quiver definitions, and a note for everything left out.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use quiver_core::{EntitySpec, JoinKey, RepoSpec, identifier_error};
use serde::Serialize;

use super::model::{FeastEntity, FeastRegistry, OtherKind};
use super::sources::{self, PostgresDefaults};
use super::{services, types, views};

/// Feast's placeholder entity of views without entities.
pub const DUMMY_ENTITY: &str = "__dummy";

/// Where the converted definitions will live, for what depends on it.
pub struct Context {
    /// The Feast feature repo (absolute): Feast's relative file paths start there.
    pub feast_repo: std::path::PathBuf,
    /// The quiver repo (absolute) the definitions are written to.
    pub out_dir: std::path::PathBuf,
    pub postgres: PostgresDefaults,
}

/// Something of the Feast registry that was left out, or changed on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// `feature view driver_stats`, `feature view driver_stats, feature f_map`, ...
    pub object: String,
    pub reason: String,
}

#[derive(Default)]
pub struct Notes(pub Vec<Note>);

impl Notes {
    pub fn add(&mut self, object: impl Into<String>, reason: impl Into<String>) {
        self.0.push(Note {
            object: object.into(),
            reason: reason.into(),
        });
    }
}

pub struct Conversion {
    pub spec: RepoSpec,
    pub notes: Vec<Note>,
}

/// Converts one Feast project; never fails: what cannot be converted is noted.
pub fn convert(registry: &FeastRegistry, context: &Context) -> Conversion {
    let mut notes = Notes::default();
    let project = project_name(&registry.project, &mut notes);
    let entities = convert_entities(registry, &mut notes);

    // Views and services are asked for by name; sources are renamed instead
    // when their name is taken (quiver names are unique across kinds).
    let mut api_names: HashSet<&str> = registry.entities.iter().map(|e| e.name.as_str()).collect();
    api_names.extend(registry.feature_views.iter().map(|v| v.name.as_str()));
    api_names.extend(registry.feature_services.iter().map(|s| s.name.as_str()));
    let sources = sources::convert_all(registry, context, &api_names, &mut notes);

    let feature_views = views::convert_all(registry, &entities, &sources, &mut notes);
    let mut taken: HashSet<String> = entities.iter().map(|e| e.name.clone()).collect();
    taken.extend(feature_views.iter().map(|v| v.name.clone()));
    let feature_services = services::convert_all(registry, &feature_views, &taken, &mut notes);

    for other in &registry.others {
        let (kind, reason) = other_reason(other.kind);
        notes.add(format!("{kind} {}", other.name), reason);
    }
    Conversion {
        spec: RepoSpec {
            project,
            entities,
            sources: sources.specs,
            feature_views,
            feature_services,
        },
        notes: notes.0,
    }
}

/// Feast allows hyphens in project names; quiver's are identifiers.
fn project_name(feast: &str, notes: &mut Notes) -> String {
    if identifier_error(feast).is_none() {
        return feast.to_string();
    }
    let mut name = identifier_from(feast);
    name.truncate(quiver_core::MAX_NAME_LEN);
    notes.add(
        format!("project {feast}"),
        format!("named `{name}` in quiver.yaml (quiver project names are letters, digits and underscores)"),
    );
    name
}

/// `text` with every character that cannot be in a name made `_`, and `_`
/// in front when it would start with a digit.
pub fn identifier_from(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    name
}

/// Why a name cannot be a quiver name, or `None`.
pub fn name_error(name: &str) -> Option<String> {
    identifier_error(name).map(|reason| format!("name `{name}` {reason}"))
}

/// A Feast owner has no field of its own in quiver: it becomes the `owner` tag.
pub fn tags_with_owner(
    tags: &BTreeMap<String, String>,
    owner: &str,
    object: &str,
    notes: &mut Notes,
) -> BTreeMap<String, String> {
    let mut tags = tags.clone();
    if owner.is_empty() {
        return tags;
    }
    match tags.get("owner") {
        Some(existing) if existing != owner => notes.add(
            object,
            format!("owner `{owner}` is not kept: its tag `owner` already says `{existing}`"),
        ),
        _ => {
            tags.insert("owner".to_string(), owner.to_string());
        }
    }
    tags
}

/// Empty text is Feast's "none".
pub fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

fn convert_entities(registry: &FeastRegistry, notes: &mut Notes) -> Vec<EntitySpec> {
    // The types the views give each join key (Feast infers them at apply
    // time when the entity declares none).
    let mut inferred: BTreeMap<&str, BTreeMap<i32, BTreeSet<&str>>> = BTreeMap::new();
    for view in &registry.feature_views {
        for column in &view.entity_columns {
            inferred
                .entry(column.name.as_str())
                .or_default()
                .entry(column.value_type)
                .or_default()
                .insert(view.name.as_str());
        }
    }
    let mut out = Vec::new();
    for entity in &registry.entities {
        if entity.name == DUMMY_ENTITY {
            continue;
        }
        match convert_entity(entity, &inferred, notes) {
            Ok(spec) => out.push(spec),
            Err(reason) => notes.add(format!("entity {}", entity.name), reason),
        }
    }
    out
}

fn convert_entity(
    entity: &FeastEntity,
    inferred: &BTreeMap<&str, BTreeMap<i32, BTreeSet<&str>>>,
    notes: &mut Notes,
) -> Result<EntitySpec, String> {
    if let Some(reason) = name_error(&entity.name) {
        return Err(reason);
    }
    let key = if entity.join_key.is_empty() {
        &entity.name
    } else {
        &entity.join_key
    };
    if let Some(reason) = identifier_error(key) {
        return Err(format!("join key `{key}` {reason}"));
    }
    let code = if entity.value_type != 0 {
        entity.value_type
    } else {
        let known: Vec<(&i32, &BTreeSet<&str>)> = inferred
            .get(key.as_str())
            .map(|types| types.iter().filter(|(code, _)| **code != 0).collect())
            .unwrap_or_default();
        match known.as_slice() {
            [] => {
                return Err(format!(
                    "join key {key} has no type: the entity declares no value_type and no feature view gives one"
                ));
            }
            [(code, _)] => **code,
            several => {
                let each: Vec<String> = several
                    .iter()
                    .map(|(code, views)| {
                        let views: Vec<&str> = views.iter().copied().collect();
                        format!("{} in {}", types::name_of(**code), views.join(", "))
                    })
                    .collect();
                return Err(format!(
                    "join key {key} has no declared type and the feature views disagree ({})",
                    each.join("; ")
                ));
            }
        }
    };
    let dtype = types::quiver_dtype(code).map_err(|reason| format!("join key {key}: {reason}"))?;
    if !dtype.is_valid_join_key() {
        return Err(format!(
            "join key {key} is {}; quiver join keys are int32, int64, string or bytes",
            types::name_of(code)
        ));
    }
    let object = format!("entity {}", entity.name);
    Ok(EntitySpec {
        name: entity.name.clone(),
        description: non_empty(&entity.description),
        join_keys: vec![JoinKey {
            name: key.clone(),
            dtype,
        }],
        tags: tags_with_owner(&entity.tags, &entity.owner, &object, notes),
    })
}

fn other_reason(kind: OtherKind) -> (&'static str, &'static str) {
    match kind {
        OtherKind::OnDemandFeatureView => (
            "on-demand feature view",
            "it computes features in Python at request time; quiver has no request-time transformations",
        ),
        OtherKind::LabelView => (
            "label view",
            "quiver has no label views (mutable labels with a conflict policy)",
        ),
        OtherKind::SavedDataset => (
            "saved dataset",
            "quiver records the training sets it builds itself (quiver historical --save)",
        ),
        OtherKind::ValidationReference => (
            "validation reference",
            "quiver's data-quality checks are declared on views (`checks:`), not Great Expectations profiles",
        ),
        OtherKind::Permission => (
            "permission",
            "quiver authorizes with API tokens and scopes (`auth:` in quiver.yaml), not per-object permissions",
        ),
    }
}
