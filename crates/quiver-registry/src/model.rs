//! What the registry returns.

use quiver_core::{ObjectChange, RegistryObject};
use serde::Serialize;

/// A current definition with its version bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredObject {
    #[serde(flatten)]
    pub object: RegistryObject,
    /// The object's own version: 1 when first applied, +1 per change.
    pub version: i64,
    /// The registry version that last changed it.
    pub registry_version: i64,
    pub updated_at: String,
}

/// One entry of an object's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectVersion {
    pub version: i64,
    /// `added`, `changed` or `removed`.
    pub change: String,
    pub hash: Option<String>,
    pub spec: Option<serde_json::Value>,
    pub field_changes: Option<serde_json::Value>,
    pub registry_version: i64,
    pub applied_by: String,
    pub applied_at: String,
}

/// One apply or teardown that changed the registry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistryVersion {
    pub version: i64,
    pub operation: String,
    pub applied_by: String,
    pub applied_at: String,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
}

/// The result of `plan`, `apply` or `teardown`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyOutcome {
    pub project: String,
    /// The registry version before the operation.
    pub from_version: i64,
    /// The registry version after it (equal to `from_version` when nothing changed
    /// or for a plan).
    pub to_version: i64,
    pub changes: Vec<ObjectChange>,
}

impl ApplyOutcome {
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }
}
