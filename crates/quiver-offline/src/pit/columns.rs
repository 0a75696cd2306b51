//! The columns a request answers with, each name once: the request's own
//! columns that come back (a training set's entity frame, an online lookup's
//! join keys), then every requested feature under its output name.

use std::collections::HashMap;

use super::features::ViewRequest;
use crate::error::{OfflineError, Result};

/// The output column names in order, or an error naming the first name that
/// two columns would share and what to change.
pub fn output_columns<'a>(
    given: impl IntoIterator<Item = &'a str>,
    views: &[ViewRequest],
    full_feature_names: bool,
) -> Result<Vec<String>> {
    // Output name -> what produces it, for the error message.
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut names = Vec::new();
    for name in given {
        if seen.insert(name.to_string(), String::new()).is_some() {
            return Err(OfflineError::Request(format!(
                "the entities have two columns named `{name}`; rename one of them"
            )));
        }
        names.push(name.to_string());
    }
    let hint = if full_feature_names {
        ""
    } else {
        ", or ask for full_feature_names (columns named view__feature)"
    };
    for request in views {
        for (feature, output) in &request.features {
            let this = format!("{}:{feature}", request.view.name());
            match seen.insert(output.clone(), this.clone()) {
                None => names.push(output.clone()),
                Some(given) if given.is_empty() => {
                    return Err(OfflineError::Request(format!(
                        "the entities already have a column `{output}`, which feature `{this}` \
                         would also produce; rename that column{hint}"
                    )));
                }
                Some(other) => {
                    return Err(OfflineError::Request(format!(
                        "features `{other}` and `{this}` would both produce a column `{output}`; \
                         ask for one of them{hint}"
                    )));
                }
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use quiver_core::{
        EntitySpec, FeatureSpec, FeatureViewSpec, JoinKey, RepoSpec, SourceKind, SourceSpec,
    };

    use super::*;
    use crate::pit::{FeatureSelection, resolve};

    /// Two views keyed by `driver_id`, both with a feature `x`.
    fn repo() -> RepoSpec {
        let view = |name: &str| FeatureViewSpec {
            name: name.into(),
            entities: vec!["driver".into()],
            source: "s".into(),
            stream_source: None,
            ttl: None,
            online: false,
            features: vec![FeatureSpec {
                name: "x".into(),
                dtype: "int64".parse().unwrap(),
                description: None,
                checks: Vec::new(),
            }],
            description: None,
            checks: Vec::new(),
            drift: None,
            tags: Default::default(),
        };
        RepoSpec {
            project: "p".into(),
            entities: vec![EntitySpec {
                name: "driver".into(),
                description: None,
                join_keys: vec![JoinKey {
                    name: "driver_id".into(),
                    dtype: "int64".parse().unwrap(),
                }],
                tags: Default::default(),
            }],
            feature_views: vec![view("a"), view("b")],
            sources: vec![SourceSpec {
                name: "s".into(),
                kind: SourceKind::Parquet {
                    path: "s.parquet".into(),
                },
                timestamp_field: "ts".into(),
                created_timestamp_field: None,
                field_mapping: Default::default(),
                description: None,
                tags: Default::default(),
            }],
            feature_services: vec![],
        }
    }

    fn columns(features: &[&str], full: bool, given: &[&str]) -> Result<Vec<String>> {
        let selection =
            FeatureSelection::Features(features.iter().map(|f| f.to_string()).collect());
        let views = resolve(&repo(), &selection, full)?;
        output_columns(given.iter().copied(), &views, full)
    }

    #[test]
    fn names_come_in_order() {
        let names = columns(&["a:x", "b:x"], true, &["driver_id", "event_timestamp"]).unwrap();
        assert_eq!(names, ["driver_id", "event_timestamp", "a__x", "b__x"]);
    }

    #[test]
    fn a_duplicate_entity_column_is_refused() {
        let error = columns(&["a:x"], false, &["driver_id", "driver_id"]).unwrap_err();
        assert!(
            error.to_string().contains("two columns named `driver_id`"),
            "{error}"
        );
        assert!(error.is_user_error());
    }

    #[test]
    fn an_entity_column_named_like_a_feature_is_refused() {
        let error = columns(&["a:x"], false, &["driver_id", "x"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("already have a column `x`"), "{error}");
        assert!(error.contains("full_feature_names"), "{error}");
        assert!(columns(&["a:x"], true, &["driver_id", "x"]).is_ok());
    }

    #[test]
    fn two_views_sharing_a_feature_name_are_refused() {
        let error = columns(&["a:x", "b"], false, &["driver_id"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("`a:x` and `b:x`"), "{error}");
        assert!(error.contains("full_feature_names"), "{error}");
    }
}
