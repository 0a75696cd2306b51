//! What the load generator and the floor ask for: which features (spread over the
//! bench repo's views) and which entity ids (a fixed pool of random key sets, the
//! same for both so they do exactly the same reads).

use serde_json::json;

/// The bench repo's layout (`setup` writes it) and one request shape.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Views in the repo: `stats_0 .. stats_{views-1}`.
    pub views: usize,
    /// Features per view in the repo: `f0 .. f{per_view-1}`.
    pub per_view: usize,
    /// Entity ids in the repo: `1 ..= population`.
    pub population: u64,
    /// Entities per request.
    pub entities: usize,
    /// Features per request, spread evenly over the views.
    pub features: usize,
    /// Distinct requests, cycled through.
    pub pool: usize,
    pub seed: u64,
}

impl Workload {
    /// The requested features per view: `features` split evenly over the views (the
    /// first views take one more when it does not divide), `f0..` of each view. 50
    /// features over 5 views are 10 per view, as in Feast's benchmark (10 per view).
    pub fn spread(&self) -> Result<Vec<(String, Vec<String>)>, String> {
        if self.views == 0 || self.features == 0 || self.entities == 0 {
            return Err("views, features and entities must be positive".into());
        }
        let base = self.features / self.views;
        let extra = self.features % self.views;
        let mut out = Vec::new();
        for v in 0..self.views {
            let n = base + usize::from(v < extra);
            if n == 0 {
                continue;
            }
            if n > self.per_view {
                return Err(format!(
                    "{} features over {} views is {n} per view, but a view has {}",
                    self.features, self.views, self.per_view
                ));
            }
            out.push((
                format!("stats_{v}"),
                (0..n).map(|f| format!("f{f}")).collect(),
            ));
        }
        Ok(out)
    }

    /// `["stats_0:f0", ...]` in view order.
    pub fn feature_refs(&self) -> Result<Vec<String>, String> {
        Ok(self
            .spread()?
            .iter()
            .flat_map(|(view, features)| features.iter().map(move |f| format!("{view}:{f}")))
            .collect())
    }

    /// `pool` lists of `entities` random ids in `1..=population` (drawn with
    /// replacement, deterministic for a seed).
    pub fn key_sets(&self) -> Vec<Vec<i64>> {
        let mut rng = SplitMix64(self.seed);
        let population = self.population.max(1);
        (0..self.pool.max(1))
            .map(|_| {
                (0..self.entities)
                    .map(|_| i64::try_from(1 + rng.next() % population).unwrap_or(1))
                    .collect()
            })
            .collect()
    }

    /// The request bodies of `POST /get-online-features`, one per key set. Every
    /// view names its features `f0..`, so the answer's columns are the full names
    /// (`stats_0__f0`).
    pub fn bodies(&self) -> Result<Vec<Vec<u8>>, String> {
        let features = self.feature_refs()?;
        self.key_sets()
            .into_iter()
            .map(|ids| {
                serde_json::to_vec(&json!({
                    "features": features,
                    "entities": { "driver_id": ids },
                    "full_feature_names": true,
                }))
                .map_err(|e| e.to_string())
            })
            .collect()
    }

    /// How the features are spread, for the report (`10 from each of 5 views`).
    pub fn spread_label(&self) -> String {
        match self.spread() {
            Ok(spread) => {
                let first = spread.first().map_or(0, |(_, f)| f.len());
                if spread.iter().all(|(_, f)| f.len() == first) {
                    format!("{first} from each of {} views", spread.len())
                } else {
                    let counts: Vec<String> =
                        spread.iter().map(|(_, f)| f.len().to_string()).collect();
                    format!("{} from {} views", counts.join("+"), spread.len())
                }
            }
            Err(e) => e,
        }
    }
}

/// A small deterministic generator (SplitMix64): enough for picking ids.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(entities: usize, features: usize) -> Workload {
        Workload {
            views: 5,
            per_view: 50,
            population: 10_000,
            entities,
            features,
            pool: 3,
            seed: 7,
        }
    }

    #[test]
    fn features_spread_evenly_over_the_views() {
        let spread = shape(1, 50).spread().unwrap_or_default();
        assert_eq!(spread.len(), 5);
        assert!(spread.iter().all(|(_, f)| f.len() == 10));
        let spread = shape(1, 250).spread().unwrap_or_default();
        assert!(spread.iter().all(|(_, f)| f.len() == 50));
        let spread = shape(1, 7).spread().unwrap_or_default();
        let counts: Vec<usize> = spread.iter().map(|(_, f)| f.len()).collect();
        assert_eq!(counts, vec![2, 2, 1, 1, 1]);
        assert!(shape(1, 251).spread().is_err());
    }

    #[test]
    fn key_sets_are_deterministic_and_in_range() {
        let a = shape(100, 50).key_sets();
        assert_eq!(a, shape(100, 50).key_sets());
        assert_eq!(a.len(), 3);
        assert!(a.iter().flatten().all(|id| (1..=10_000).contains(id)));
    }
}
