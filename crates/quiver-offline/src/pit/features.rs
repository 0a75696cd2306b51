//! Which views and features a training-set request reads, and what the output
//! columns are called.

use quiver_core::{ObjectKind, RepoSpec};

use crate::error::{OfflineError, Result};
use crate::view_schema::ViewSchema;

/// The features wanted: a list of `view:feature` (or `view` for all of a view)
/// or the name of a feature service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeatureSelection {
    Features(Vec<String>),
    Service(String),
}

/// One view's part of a request.
#[derive(Debug, Clone)]
pub struct ViewRequest {
    pub view: ViewSchema,
    /// (feature name in the view, output column name), in request order.
    pub features: Vec<(String, String)>,
}

/// Resolves a selection into per-view requests (views in first-mention order).
/// Whether the output names clash is [`super::output_columns`]'s to say.
pub fn resolve(
    repo: &RepoSpec,
    selection: &FeatureSelection,
    full_feature_names: bool,
) -> Result<Vec<ViewRequest>> {
    let references: Vec<String> = match selection {
        FeatureSelection::Features(list) => list.clone(),
        FeatureSelection::Service(name) => repo
            .feature_services
            .iter()
            .find(|s| &s.name == name)
            .ok_or_else(|| OfflineError::NotFound {
                kind: ObjectKind::FeatureService,
                name: name.clone(),
                message: format!("unknown feature service `{name}`"),
            })?
            .features
            .clone(),
    };
    if references.is_empty() {
        return Err(OfflineError::Request("no features requested".into()));
    }
    let mut requests: Vec<ViewRequest> = Vec::new();
    for reference in &references {
        let (view_name, feature) = match reference.split_once(':') {
            Some((v, f)) => (v, Some(f)),
            None => (reference.as_str(), None),
        };
        let spec = repo
            .feature_view(view_name)
            .ok_or_else(|| OfflineError::NotFound {
                kind: ObjectKind::FeatureView,
                name: view_name.to_string(),
                message: format!(
                    "unknown feature view `{view_name}` in `{reference}` (write view:feature)"
                ),
            })?;
        let names: Vec<String> = match feature {
            Some(f) if spec.feature(f).is_some() => vec![f.to_string()],
            Some(f) => {
                return Err(OfflineError::Request(format!(
                    "feature view `{view_name}` has no feature `{f}`"
                )));
            }
            None => spec.features.iter().map(|f| f.name.clone()).collect(),
        };
        let index = match requests.iter().position(|r| r.view.name() == view_name) {
            Some(i) => i,
            None => {
                requests.push(ViewRequest {
                    view: ViewSchema::new(repo, view_name)?,
                    features: vec![],
                });
                requests.len() - 1
            }
        };
        for name in names {
            let output = if full_feature_names {
                format!("{view_name}__{name}")
            } else {
                name.clone()
            };
            requests[index].features.push((name, output));
        }
    }
    Ok(requests)
}
