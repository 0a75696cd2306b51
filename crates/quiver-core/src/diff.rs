//! What `plan` shows and `apply` records: objects added, changed (field by field) or removed.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::spec::{ObjectKind, RegistryObject};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One field that differs between the registry and the repo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// e.g. `ttl` or `features[conv_rate].dtype`.
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectChange {
    pub kind: ObjectKind,
    pub name: String,
    pub change: ChangeKind,
    /// Empty for added and removed objects.
    pub fields: Vec<FieldChange>,
}

/// Changes that turn `current` into `desired`, ordered by kind, then name.
pub fn diff_objects(current: &[RegistryObject], desired: &[RegistryObject]) -> Vec<ObjectChange> {
    let index = |objects: &[RegistryObject]| -> BTreeMap<(ObjectKind, String), RegistryObject> {
        objects
            .iter()
            .map(|o| ((o.kind, o.name.clone()), o.clone()))
            .collect()
    };
    let current = index(current);
    let desired = index(desired);
    let mut changes = Vec::new();
    for (key, new) in &desired {
        match current.get(key) {
            None => changes.push(ObjectChange {
                kind: key.0,
                name: key.1.clone(),
                change: ChangeKind::Added,
                fields: vec![],
            }),
            Some(old) if old.hash != new.hash => {
                let mut fields = Vec::new();
                diff_values("", Some(&old.spec), Some(&new.spec), &mut fields);
                changes.push(ObjectChange {
                    kind: key.0,
                    name: key.1.clone(),
                    change: ChangeKind::Changed,
                    fields,
                });
            }
            Some(_) => {}
        }
    }
    for key in current.keys().filter(|k| !desired.contains_key(*k)) {
        changes.push(ObjectChange {
            kind: key.0,
            name: key.1.clone(),
            change: ChangeKind::Removed,
            fields: vec![],
        });
    }
    changes.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    changes
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn diff_values(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (key, value) in a {
                diff_values(&join(path, key), Some(value), b.get(key), out);
            }
            for (key, value) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                diff_values(&join(path, key), None, Some(value), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a != b => {
            match (named_items(a), named_items(b)) {
                // Lists of named items (features, join keys) are compared item by item.
                (Some(a_items), Some(b_items)) => {
                    for (name, item) in &a_items {
                        let other = b_items.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
                        diff_values(&format!("{path}[{name}]"), Some(item), other, out);
                    }
                    for (name, item) in b_items
                        .iter()
                        .filter(|(n, _)| !a_items.iter().any(|(m, _)| m == n))
                    {
                        diff_values(&format!("{path}[{name}]"), None, Some(item), out);
                    }
                    let order = |items: &[(String, &Value)]| {
                        items.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
                    };
                    let (a_order, b_order) = (order(&a_items), order(&b_items));
                    let common = |x: &[String], y: &[String]| {
                        x.iter()
                            .filter(|n| y.contains(n))
                            .cloned()
                            .collect::<Vec<_>>()
                    };
                    if common(&a_order, &b_order) != common(&b_order, &a_order) {
                        out.push(FieldChange {
                            path: format!("{path}(order)"),
                            old: Some(Value::from(a_order)),
                            new: Some(Value::from(b_order)),
                        });
                    }
                }
                _ => out.push(FieldChange {
                    path: path.to_string(),
                    old: Some(Value::Array(a.clone())),
                    new: Some(Value::Array(b.clone())),
                }),
            }
        }
        (a, b) if a != b => out.push(FieldChange {
            path: path.to_string(),
            old: a.cloned(),
            new: b.cloned(),
        }),
        _ => {}
    }
}

/// `Some((name, item))` pairs when every item is an object with a string `name`.
fn named_items(items: &[Value]) -> Option<Vec<(String, &Value)>> {
    items
        .iter()
        .map(|item| {
            item.get("name")
                .and_then(Value::as_str)
                .map(|n| (n.to_string(), item))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(kind: ObjectKind, name: &str, spec: Value) -> RegistryObject {
        RegistryObject::new(kind, name, &spec).unwrap()
    }

    #[test]
    fn added_changed_removed_field_by_field() {
        let old_view = json!({"name": "v", "ttl": "2days", "features": [
            {"name": "a", "dtype": "float32"}, {"name": "b", "dtype": "int64"}]});
        let new_view = json!({"name": "v", "ttl": "1day", "features": [
            {"name": "a", "dtype": "float64"}, {"name": "c", "dtype": "string"}]});
        let current = vec![
            object(ObjectKind::FeatureView, "v", old_view),
            object(ObjectKind::Source, "gone", json!({"name": "gone"})),
            object(ObjectKind::Entity, "same", json!({"name": "same"})),
        ];
        let desired = vec![
            object(ObjectKind::FeatureView, "v", new_view),
            object(ObjectKind::Entity, "same", json!({"name": "same"})),
            object(ObjectKind::FeatureService, "new", json!({"name": "new"})),
        ];
        let changes = diff_objects(&current, &desired);
        let summary: Vec<(ObjectKind, &str, ChangeKind)> = changes
            .iter()
            .map(|c| (c.kind, c.name.as_str(), c.change))
            .collect();
        assert_eq!(
            summary,
            vec![
                (ObjectKind::Source, "gone", ChangeKind::Removed),
                (ObjectKind::FeatureView, "v", ChangeKind::Changed),
                (ObjectKind::FeatureService, "new", ChangeKind::Added),
            ]
        );
        let paths: Vec<&str> = changes[1].fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["ttl", "features[a].dtype", "features[b]", "features[c]"]
        );
        assert_eq!(changes[1].fields[0].old, Some(json!("2days")));
        assert_eq!(changes[1].fields[2].new, None);
    }

    #[test]
    fn reordering_named_items_is_a_change() {
        let a = json!({"features": [{"name": "x"}, {"name": "y"}]});
        let b = json!({"features": [{"name": "y"}, {"name": "x"}]});
        let changes = diff_objects(
            &[object(ObjectKind::FeatureView, "v", a)],
            &[object(ObjectKind::FeatureView, "v", b)],
        );
        assert_eq!(changes[0].fields[0].path, "features(order)");
    }

    #[test]
    fn identical_objects_make_no_change() {
        let spec = json!({"name": "v", "entities": ["driver"]});
        let objects = [object(ObjectKind::FeatureView, "v", spec)];
        assert!(diff_objects(&objects, &objects).is_empty());
    }
}
