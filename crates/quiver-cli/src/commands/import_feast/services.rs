//! Feast feature services as quiver services: each projection becomes
//! `view:feature` entries, exactly the features Feast recorded, or `view`
//! when it selects every feature of the view.

use std::collections::HashSet;

use quiver_core::{FeatureServiceSpec, FeatureViewSpec};

use super::convert::{Notes, name_error, non_empty, tags_with_owner};
use super::model::{FeastRegistry, FeastService, OtherKind};

pub fn convert_all(
    registry: &FeastRegistry,
    views: &[FeatureViewSpec],
    taken: &HashSet<String>,
    notes: &mut Notes,
) -> Vec<FeatureServiceSpec> {
    let mut out = Vec::new();
    for service in &registry.feature_services {
        let object = format!("feature service {}", service.name);
        match convert(service, registry, views, taken, &object, notes) {
            Ok(spec) => out.push(spec),
            Err(reason) => notes.add(object, reason),
        }
    }
    out
}

fn convert(
    service: &FeastService,
    registry: &FeastRegistry,
    views: &[FeatureViewSpec],
    taken: &HashSet<String>,
    object: &str,
    notes: &mut Notes,
) -> Result<FeatureServiceSpec, String> {
    if let Some(reason) = name_error(&service.name) {
        return Err(reason);
    }
    if taken.contains(&service.name) {
        return Err(format!(
            "another object is named {} (quiver names are unique across entities, sources, views and services)",
            service.name
        ));
    }
    let mut features = Vec::new();
    for projection in &service.projections {
        let view_name = &projection.view;
        if !projection.alias.is_empty() {
            return Err(format!(
                "it reads view {view_name} under the name {} (with_name); quiver services cannot rename views",
                projection.alias
            ));
        }
        if !projection.join_key_map.is_empty() {
            let pairs: Vec<String> = projection
                .join_key_map
                .iter()
                .map(|(from, to)| format!("{from} -> {to}"))
                .collect();
            return Err(format!(
                "it maps view {view_name}'s join keys ({}, with_join_key_map); quiver services cannot",
                pairs.join(", ")
            ));
        }
        let Some(view) = views.iter().find(|v| &v.name == view_name) else {
            return Err(format!(
                "it reads {} {view_name}, which is not converted",
                view_kind(registry, view_name)
            ));
        };
        for feature in &projection.features {
            if view.feature(feature).is_none() {
                return Err(format!(
                    "it reads feature {view_name}:{feature}, which is not converted"
                ));
            }
        }
        let references = if selects_whole_view(registry, view_name, &projection.features) {
            vec![view_name.clone()]
        } else {
            let each = projection.features.iter();
            each.map(|feature| format!("{view_name}:{feature}"))
                .collect()
        };
        for reference in references {
            if !features.contains(&reference) {
                features.push(reference);
            }
        }
    }
    if features.is_empty() {
        return Err("it selects no features".to_string());
    }
    if service.logging {
        notes.add(
            object,
            "its feature logging is not kept: quiver does not log served features",
        );
    }
    Ok(FeatureServiceSpec {
        name: service.name.clone(),
        features,
        description: non_empty(&service.description),
        tags: tags_with_owner(&service.tags, &service.owner, object, notes),
    })
}

/// Whether a projection lists every feature of its Feast view (Feast
/// records `service = FeatureService(features=[view])` that way).
fn selects_whole_view(registry: &FeastRegistry, view: &str, features: &[String]) -> bool {
    let Some(view) = registry.feature_views.iter().find(|v| v.name == view) else {
        return false;
    };
    let all: HashSet<&str> = view.features.iter().map(|f| f.name.as_str()).collect();
    let selected: HashSet<&str> = features.iter().map(String::as_str).collect();
    all == selected
}

/// What kind of view a service names, for messages.
fn view_kind(registry: &FeastRegistry, name: &str) -> &'static str {
    if let Some(view) = registry.feature_views.iter().find(|v| v.name == name) {
        return view.kind.label();
    }
    let other = registry.others.iter().find(|o| o.name == name);
    match other.map(|o| o.kind) {
        Some(OtherKind::OnDemandFeatureView) => "on-demand feature view",
        Some(OtherKind::LabelView) => "label view",
        _ => "view",
    }
}
