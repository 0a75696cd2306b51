//! `apply`'s check of each feature view against the source it reads: every
//! declared column must exist with a type that fits. Sources that cannot be
//! reached (no file yet, Postgres down) are reported as warnings, not errors,
//! so a repo can be applied before its data exists; a file that is there but
//! is not Parquet is an error.

use std::collections::HashMap;

use quiver_core::{DefinitionError, FeatureViewSpec, Repo, ScalarType, ValueType};

use crate::error::OfflineError;
use crate::schema::{SourceColumn, inspect_source};

/// A source that could not be read, so its views were not checked.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableSource {
    pub source: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct SourceCheck {
    pub errors: Vec<DefinitionError>,
    pub unreadable: Vec<UnreadableSource>,
}

/// Checks every feature view whose batch source is readable.
pub async fn check_sources(repo: &Repo) -> SourceCheck {
    let mut report = SourceCheck::default();
    let mut schemas: HashMap<&str, Option<Vec<SourceColumn>>> = HashMap::new();
    for view in &repo.spec.feature_views {
        let Some(source) = repo.spec.source(&view.source) else {
            continue;
        };
        if !schemas.contains_key(source.name.as_str()) {
            let columns = match inspect_source(source, &repo.root).await {
                Ok(columns) => columns,
                Err(e @ OfflineError::NotParquet { .. }) => {
                    report.errors.push(
                        repo.locations
                            .error(&format!("sources[{}].path", source.name), e.to_string()),
                    );
                    None
                }
                Err(e) => {
                    report.unreadable.push(UnreadableSource {
                        source: source.name.clone(),
                        reason: e.to_string(),
                    });
                    None
                }
            };
            schemas.insert(&source.name, columns);
        }
        if let Some(Some(columns)) = schemas.get(source.name.as_str()) {
            report.errors.extend(check_view(repo, view, columns));
        }
    }
    report
}

/// The problems of one view against its source's columns.
fn check_view(
    repo: &Repo,
    view: &FeatureViewSpec,
    columns: &[SourceColumn],
) -> Vec<DefinitionError> {
    let Some(source) = repo.spec.source(&view.source) else {
        return vec![];
    };
    let view_path = format!("feature_views[{}]", view.name);
    let source_path = format!("sources[{}]", source.name);
    let timestamp = ValueType::Scalar(ScalarType::Timestamp);

    let mut wanted: Vec<(String, &str, ValueType)> = Vec::new();
    wanted.push((
        format!("{source_path}.timestamp_field"),
        source.timestamp_field.as_str(),
        timestamp,
    ));
    if let Some(created) = &source.created_timestamp_field {
        wanted.push((
            format!("{source_path}.created_timestamp_field"),
            created.as_str(),
            timestamp,
        ));
    }
    for entity in &view.entities {
        for key in repo
            .spec
            .entity(entity)
            .map(|e| e.join_keys.as_slice())
            .unwrap_or_default()
        {
            wanted.push((
                format!("{view_path}.entities"),
                key.name.as_str(),
                key.dtype,
            ));
        }
    }
    for feature in &view.features {
        wanted.push((
            format!("{view_path}.features[{}]", feature.name),
            feature.name.as_str(),
            feature.dtype,
        ));
    }

    let mut errors = Vec::new();
    for (path, name, declared) in wanted {
        let column = source.column_for(name);
        let renamed = if column == name {
            String::new()
        } else {
            format!(" (mapped from `{column}`)")
        };
        match columns.iter().find(|c| c.name == column) {
            None => {
                let available: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                errors.push(repo.locations.error(
                    &path,
                    format!(
                        "source `{}` has no column `{column}`{renamed} needed by view `{}` (it has: {})",
                        source.name,
                        view.name,
                        available.join(", ")
                    ),
                ));
            }
            Some(found) if !found.stored.fits(declared) => errors.push(repo.locations.error(
                &path,
                format!(
                    "source `{}` column `{column}` is {} but `{name}` is declared {declared}",
                    source.name, found.stored
                ),
            )),
            Some(_) => {}
        }
    }
    errors
}
