//! Where each validated object and field was written, for errors found after
//! parsing (e.g. a source that lacks a declared column).

use std::collections::HashMap;

use crate::error::{DefinitionError, Location};

/// Field paths such as `feature_views[driver_hourly_stats].features[conv_rate]`
/// mapped to their position.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    map: HashMap<String, Location>,
}

impl Locations {
    pub(crate) fn insert(&mut self, path: String, location: Location) {
        self.map.insert(path, location);
    }

    /// The position of `path`, or of its nearest enclosing field that has one.
    pub fn find(&self, path: &str) -> Option<&Location> {
        let mut current = path;
        loop {
            if let Some(location) = self.map.get(current) {
                return Some(location);
            }
            let cut = current.rfind(['.', '['])?;
            current = &current[..cut];
        }
    }

    /// An error at `path`, placed as precisely as the recorded positions allow.
    pub fn error(&self, path: &str, message: impl Into<String>) -> DefinitionError {
        let location = self
            .find(path)
            .cloned()
            .unwrap_or_else(|| Location::new("<unknown>", 0, 0));
        DefinitionError::new(location, path, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_the_enclosing_field() {
        let mut locations = Locations::default();
        locations.insert("feature_views[v]".into(), Location::new("a.yaml", 3, 5));
        locations.insert(
            "feature_views[v].features[f]".into(),
            Location::new("a.yaml", 9, 9),
        );
        assert_eq!(
            locations
                .find("feature_views[v].features[f].dtype")
                .unwrap()
                .line,
            9
        );
        assert_eq!(locations.find("feature_views[v].ttl").unwrap().line, 3);
        assert!(locations.find("sources[x]").is_none());
        let e = locations.error("feature_views[v].source", "boom");
        assert_eq!(e.to_string(), "a.yaml:3:5: feature_views[v].source: boom");
    }
}
