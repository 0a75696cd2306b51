//! Feast feature views (and stream feature views without transformations)
//! as quiver views.

use std::time::Duration;

use quiver_core::{EntitySpec, FeatureSpec, FeatureViewSpec};

use super::convert::{DUMMY_ENTITY, Notes, name_error, non_empty, tags_with_owner};
use super::model::{FeastDuration, FeastField, FeastRegistry, FeastView};
use super::sources::SourceTable;
use super::types;

pub fn convert_all(
    registry: &FeastRegistry,
    entities: &[EntitySpec],
    sources: &SourceTable,
    notes: &mut Notes,
) -> Vec<FeatureViewSpec> {
    let mut out = Vec::new();
    for view in &registry.feature_views {
        let object = format!("{} {}", view.kind.label(), view.name);
        match convert(view, entities, sources, &object, notes) {
            Ok(spec) => out.push(spec),
            Err(reason) => notes.add(object, reason),
        }
    }
    out
}

fn convert(
    view: &FeastView,
    entities: &[EntitySpec],
    sources: &SourceTable,
    object: &str,
    notes: &mut Notes,
) -> Result<FeatureViewSpec, String> {
    if !view.aggregations.is_empty() {
        return Err(format!(
            "its windowed aggregations ({}) are not converted: quiver has no stream aggregations",
            view.aggregations.join(", ")
        ));
    }
    if let Some(function) = &view.transformation {
        let function = if function.is_empty() {
            "a Python function".to_string()
        } else {
            format!("`{function}`")
        };
        return Err(format!(
            "it is computed by {function}; quiver has no transformations"
        ));
    }
    if !view.source_views.is_empty() {
        return Err(format!(
            "it is computed from feature views {}; quiver reads views from sources only",
            view.source_views.join(", ")
        ));
    }
    if let Some(reason) = name_error(&view.name) {
        return Err(reason);
    }
    if entities.iter().any(|e| e.name == view.name) {
        return Err(format!(
            "entity {} has its name (quiver names are unique across entities, sources, views and services)",
            view.name
        ));
    }

    let view_entities = view_entities(view, entities)?;
    let ttl = ttl(view.ttl)?;
    let batch_name = view.batch_source.as_ref().map(|s| s.name.as_str());
    let batch = match batch_name.map(|name| (name, sources.get(name))) {
        None => return Err("it has no batch source".to_string()),
        Some((name, None)) => return Err(format!("its batch source {name} is not converted")),
        Some((name, Some(spec))) if !spec.kind.is_batch() => {
            return Err(format!(
                "its batch source {name} is a {} source",
                spec.kind.name()
            ));
        }
        Some((_, Some(spec))) => spec,
    };
    let stream_source = match &view.stream_source {
        None => None,
        Some(stream) => match sources.get(&stream.name) {
            Some(spec) if !spec.kind.is_batch() => Some(spec.name.clone()),
            _ => {
                notes.add(
                    object,
                    format!(
                        "its stream source {} is not converted: imported with its batch source only",
                        stream.name
                    ),
                );
                None
            }
        },
    };

    let timestamps = [
        Some(batch.timestamp_field.as_str()),
        batch.created_timestamp_field.as_deref(),
    ];
    let mut features = Vec::new();
    for field in &view.features {
        let feature_object = format!("{object}, feature {}", field.name);
        match feature(field, entities, &timestamps, &batch.name) {
            Ok(spec) => {
                if !field.tags.is_empty() {
                    let keys: Vec<&str> = field.tags.keys().map(String::as_str).collect();
                    notes.add(
                        &feature_object,
                        format!(
                            "its tags ({}) are not kept: quiver features have none",
                            keys.join(", ")
                        ),
                    );
                }
                if field.vector_index {
                    notes.add(
                        &feature_object,
                        "its vector index is not kept: quiver has no vector search",
                    );
                }
                features.push(spec);
            }
            Err(reason) => notes.add(feature_object, reason),
        }
    }
    if features.is_empty() {
        return Err("none of its features can be converted".to_string());
    }
    Ok(FeatureViewSpec {
        name: view.name.clone(),
        entities: view_entities,
        source: batch.name.clone(),
        stream_source,
        ttl,
        online: view.online,
        features,
        checks: Vec::new(),
        drift: None,
        description: non_empty(&view.description),
        tags: tags_with_owner(&view.tags, &view.owner, object, notes),
    })
}

/// The view's entities, each converted, with the join key types the view
/// was registered with.
fn view_entities(view: &FeastView, entities: &[EntitySpec]) -> Result<Vec<String>, String> {
    let names: Vec<&String> = view
        .entities
        .iter()
        .filter(|e| e.as_str() != DUMMY_ENTITY)
        .collect();
    if names.is_empty() {
        return Err(
            "it has no entities (Feast's entityless view); a quiver view needs at least one"
                .to_string(),
        );
    }
    let mut keys = std::collections::HashMap::new();
    for name in &names {
        let Some(entity) = entities.iter().find(|e| &&e.name == name) else {
            return Err(format!("its entity {name} is not converted"));
        };
        for key in &entity.join_keys {
            if let Some(other) = keys.insert(key.name.as_str(), name) {
                return Err(format!(
                    "its entities {other} and {name} share the join key {}",
                    key.name
                ));
            }
            let column = view.entity_columns.iter().find(|c| c.name == key.name);
            if let Some(column) = column.filter(|c| c.value_type != 0) {
                let here = types::quiver_dtype(column.value_type);
                if here.as_ref() != Ok(&key.dtype) {
                    return Err(format!(
                        "its join key {} is {} here but {} on entity {name}",
                        key.name,
                        types::name_of(column.value_type),
                        key.dtype
                    ));
                }
            }
        }
    }
    Ok(names.into_iter().cloned().collect())
}

/// Feast's TTL: unset or zero means values never expire, which quiver writes
/// by leaving `ttl` out.
fn ttl(ttl: Option<FeastDuration>) -> Result<Option<Duration>, String> {
    let Some(ttl) = ttl else { return Ok(None) };
    if ttl.seconds < 0 || ttl.nanos < 0 {
        return Err(format!("its ttl {} is negative", ttl.text()));
    }
    if ttl.nanos != 0 {
        return Err(format!(
            "its ttl {} is not a whole number of seconds, which quiver's TTLs are",
            ttl.text()
        ));
    }
    Ok((ttl.seconds > 0).then(|| Duration::from_secs(ttl.seconds.unsigned_abs())))
}

fn feature(
    field: &FeastField,
    entities: &[EntitySpec],
    timestamps: &[Option<&str>],
    source: &str,
) -> Result<FeatureSpec, String> {
    if let Some(reason) = name_error(&field.name) {
        return Err(reason);
    }
    let dtype = types::quiver_dtype(field.value_type)?;
    if let Some(entity) = entities
        .iter()
        .find(|e| e.join_keys.iter().any(|k| k.name == field.name))
    {
        return Err(format!(
            "it has the name of entity {}'s join key; quiver answers carry the join keys beside the features, so the two would clash",
            entity.name
        ));
    }
    if timestamps.contains(&Some(field.name.as_str())) {
        return Err(format!("it is a timestamp column of source {source}"));
    }
    Ok(FeatureSpec {
        name: field.name.clone(),
        dtype,
        description: non_empty(&field.description),
        checks: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_or_unset_ttl_is_forever_and_fractions_are_refused() {
        let d = |seconds, nanos| Some(FeastDuration { seconds, nanos });
        assert_eq!(ttl(None).unwrap(), None);
        assert_eq!(ttl(d(0, 0)).unwrap(), None);
        assert_eq!(ttl(d(5400, 0)).unwrap(), Some(Duration::from_secs(5400)));
        assert!(ttl(d(1, 500_000_000)).unwrap_err().contains("1.5s"));
        assert!(ttl(d(-5, 0)).unwrap_err().contains("negative"));
    }
}
