//! Online read plans: a lookup's features resolved against one applied
//! definitions version once, then shared by every request asking the same.
//!
//! Resolving clones each requested view's definition and schema and groups the
//! views by join keys; a model server asks the same few feature lists over and
//! over, so that work is done on the first request of each list only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use quiver_core::ValueType;
use quiver_offline::pit::{FeatureSelection, ViewRequest, resolve};
use quiver_online::ReadView;

use crate::error::Result;
use crate::store::Applied;

/// Plans kept per applied version; past this the cache starts afresh, so
/// requests with ever-new feature lists cannot grow it without bound.
const MAX_PLANS: usize = 1024;

/// What a plan depends on besides the definitions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PlanKey {
    pub features: FeatureSelection,
    pub full_feature_names: bool,
    /// Reads with no TTL (Feast's answers for expired values).
    pub ignore_ttl: bool,
}

/// Views sharing join keys: one read of the online store.
#[derive(Debug)]
pub(crate) struct KeyGroup {
    /// The join keys, in the views' key order, with their declared types.
    pub keys: Vec<(String, ValueType)>,
    /// Indices into [`ReadPlan::views`].
    pub members: Vec<usize>,
    /// The store's read of each member, in `members` order.
    pub reads: Vec<ReadView>,
}

/// A resolved lookup.
#[derive(Debug)]
pub(crate) struct ReadPlan {
    pub views: Vec<ViewRequest>,
    pub groups: Vec<KeyGroup>,
}

impl ReadPlan {
    fn new(applied: &Applied, key: &PlanKey) -> Result<Self> {
        let views = resolve(&applied.spec, &key.features, key.full_feature_names)?;
        let mut grouped: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for (index, view) in views.iter().enumerate() {
            let names = view
                .view
                .key_names()
                .into_iter()
                .map(String::from)
                .collect();
            grouped.entry(names).or_default().push(index);
        }
        let groups = grouped
            .into_values()
            .map(|members| {
                let first = &views[members[0]].view;
                KeyGroup {
                    keys: first
                        .keys
                        .iter()
                        .map(|k| (k.name.clone(), k.dtype))
                        .collect(),
                    reads: members
                        .iter()
                        .map(|&i| ReadView {
                            view: views[i].view.name().to_string(),
                            features: views[i].features.iter().map(|(f, _)| f.clone()).collect(),
                            ttl: views[i].view.view.ttl.filter(|_| !key.ignore_ttl),
                        })
                        .collect(),
                    members,
                }
            })
            .collect();
        Ok(Self { views, groups })
    }
}

/// The plans of one applied version.
#[derive(Debug, Default)]
pub(crate) struct PlanCache(Mutex<HashMap<PlanKey, Arc<ReadPlan>>>);

impl Applied {
    /// The plan for `key`: made on the first request, shared by later ones.
    pub(crate) fn read_plan(&self, key: PlanKey) -> Result<Arc<ReadPlan>> {
        // A poisoned lock only means a thread panicked mid-insert; the map is still usable.
        let lock = || self.read_plans.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = lock().get(&key) {
            return Ok(plan.clone());
        }
        let plan = Arc::new(ReadPlan::new(self, &key)?);
        let mut plans = lock();
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert(key, plan.clone());
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The example repo's definitions, applied at some version.
    fn applied() -> Applied {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../feature_repo");
        Applied {
            spec: Arc::new(quiver_core::load_repo(&repo).unwrap().spec),
            version: 1,
            stream_views: Arc::default(),
            read_plans: Arc::default(),
        }
    }

    fn key(features: &[&str], full_feature_names: bool) -> PlanKey {
        PlanKey {
            features: FeatureSelection::Features(features.iter().map(|f| f.to_string()).collect()),
            full_feature_names,
            ignore_ttl: false,
        }
    }

    #[test]
    fn a_feature_list_is_resolved_once_and_shared() {
        let applied = applied();
        let wanted = [
            "driver_hourly_stats:conv_rate",
            "driver_hourly_stats:acc_rate",
        ];
        let first = applied.read_plan(key(&wanted, false)).unwrap();
        let again = applied.read_plan(key(&wanted, false)).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(first.groups.len(), 1);
        assert_eq!(first.groups[0].reads[0].features, ["conv_rate", "acc_rate"]);
        // Another naming is another plan, with its own output names.
        let full = applied.read_plan(key(&wanted, true)).unwrap();
        assert!(!Arc::ptr_eq(&first, &full));
        assert_eq!(
            full.views[0].features[0].1,
            "driver_hourly_stats__conv_rate"
        );
    }

    #[test]
    fn an_unknown_feature_is_an_error_and_no_plan() {
        let applied = applied();
        assert!(
            applied
                .read_plan(key(&["driver_hourly_stats:nope"], false))
                .is_err()
        );
        assert!(applied.read_plans.0.lock().unwrap().is_empty());
    }
}
