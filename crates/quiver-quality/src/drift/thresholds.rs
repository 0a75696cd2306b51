//! When a drift metric counts as drift.

use serde::{Deserialize, Serialize};

use super::DriftError;

/// The limits past which a metric says "drifted". The defaults are the usual
/// rules of thumb; a feature known to be noisy (or critical) gets its own.
///
/// ```
/// use quiver_quality::DriftThresholds;
///
/// let strict = DriftThresholds { psi: 0.1, ..DriftThresholds::default() };
/// assert_eq!(strict.ks, 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftThresholds {
    /// Drifted when PSI is above this. Default 0.2: below 0.1 is customarily
    /// read as no shift, 0.1–0.2 as moderate, above 0.2 as significant.
    pub psi: f64,
    /// Drifted when the KS distance (the largest gap between the two CDFs) is
    /// above this. Default 0.1: a tenth of the population has moved across
    /// some value. A fixed distance rather than the KS test's p-value, because
    /// with millions of rows the test rejects shifts too small to matter, and
    /// the sketches' own rank error (~1.3% each) sets a floor on what can be
    /// resolved.
    pub ks: f64,
    /// Drifted when the chi-square test's p-value is below this. Default 0.01.
    pub chi_square_p: f64,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        Self {
            psi: 0.2,
            ks: 0.1,
            chi_square_p: 0.01,
        }
    }
}

impl DriftThresholds {
    /// Refuses NaN and out-of-range thresholds, which would otherwise make
    /// every comparison silently "not drifted" (NaN compares false).
    pub fn validate(&self) -> Result<(), DriftError> {
        let checks = [
            ("psi", self.psi, self.psi >= 0.0),
            ("ks", self.ks, (0.0..=1.0).contains(&self.ks)),
            (
                "chi_square_p",
                self.chi_square_p,
                (0.0..=1.0).contains(&self.chi_square_p),
            ),
        ];
        for (name, value, ok) in checks {
            if !ok {
                return Err(DriftError::InvalidThreshold { name, value });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(DriftThresholds::default().validate(), Ok(()));
    }

    #[test]
    fn refuses_nan_and_out_of_range() {
        let nan = DriftThresholds {
            psi: f64::NAN,
            ..DriftThresholds::default()
        };
        assert!(matches!(
            nan.validate(),
            Err(DriftError::InvalidThreshold { name: "psi", .. })
        ));
        let p = DriftThresholds {
            chi_square_p: 1.5,
            ..DriftThresholds::default()
        };
        assert!(p.validate().is_err());
    }

    #[test]
    fn missing_fields_take_the_defaults() {
        let t: DriftThresholds = serde_json::from_str(r#"{"ks": 0.05}"#).expect("valid");
        assert_eq!(t.ks, 0.05);
        assert_eq!(t.psi, 0.2);
    }
}
