//! Declared data-quality checks: per feature (`not_null`, `min`, `max`,
//! `allowed`, `max_null_fraction`, `min_length`, `max_length`, `regex`) and per
//! view (`not_empty`, `unique`), each with a policy saying what a violation does.
//!
//! ```yaml
//! features:
//!   - name: conv_rate
//!     dtype: float32
//!     checks:
//!       - { check: not_null, policy: drop }
//!       - { check: min, value: 0 }             # policy: fail by default
//!       - { check: max, value: 1, policy: warn }
//! checks:                                       # on the view
//!   - { check: not_empty }
//!   - { check: unique, policy: drop }
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dtype::{ScalarType, ValueType};

/// What a violated check does.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckPolicy {
    /// The run (or the push, or the micro-batch) stops; nothing is published.
    #[default]
    Fail,
    /// The offending row is left out and counted (a stream's goes to the dead-letter topic).
    Drop,
    /// Counted only.
    Warn,
}

impl CheckPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckPolicy::Fail => "fail",
            CheckPolicy::Drop => "drop",
            CheckPolicy::Warn => "warn",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "fail" => Ok(CheckPolicy::Fail),
            "drop" => Ok(CheckPolicy::Drop),
            "warn" => Ok(CheckPolicy::Warn),
            other => Err(format!(
                "unknown policy `{other}` (expected fail, drop or warn)"
            )),
        }
    }
}

/// A rule on one feature's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum FeatureRule {
    NotNull,
    Min {
        value: f64,
    },
    Max {
        value: f64,
    },
    /// For strings: the allowed texts; for numbers and bools: their values.
    Allowed {
        values: Vec<serde_json::Value>,
    },
    /// Of the rows checked together (a window, a push, a micro-batch).
    MaxNullFraction {
        value: f64,
    },
    MinLength {
        value: u64,
    },
    MaxLength {
        value: u64,
    },
    /// The whole value must match (the pattern is anchored).
    Regex {
        pattern: String,
    },
}

/// A rule on a view's rows as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum ViewRule {
    /// A materialized window holds at least one row.
    NotEmpty,
    /// At most one row per (join keys, event time).
    Unique,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureCheck {
    #[serde(flatten)]
    pub rule: FeatureRule,
    pub policy: CheckPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewCheck {
    #[serde(flatten)]
    pub rule: ViewRule,
    pub policy: CheckPolicy,
}

impl FeatureRule {
    pub fn name(&self) -> &'static str {
        match self {
            FeatureRule::NotNull => "not_null",
            FeatureRule::Min { .. } => "min",
            FeatureRule::Max { .. } => "max",
            FeatureRule::Allowed { .. } => "allowed",
            FeatureRule::MaxNullFraction { .. } => "max_null_fraction",
            FeatureRule::MinLength { .. } => "min_length",
            FeatureRule::MaxLength { .. } => "max_length",
            FeatureRule::Regex { .. } => "regex",
        }
    }

    /// Whether the rule judges each row alone (else the rows together).
    pub fn is_per_row(&self) -> bool {
        !matches!(self, FeatureRule::MaxNullFraction { .. })
    }
}

impl ViewRule {
    pub fn name(&self) -> &'static str {
        match self {
            ViewRule::NotEmpty => "not_empty",
            ViewRule::Unique => "unique",
        }
    }
}

impl fmt::Display for FeatureRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureRule::NotNull | FeatureRule::MaxNullFraction { .. } => {
                f.write_str(self.name())?;
                if let FeatureRule::MaxNullFraction { value } = self {
                    write!(f, " {value}")?;
                }
                Ok(())
            }
            FeatureRule::Min { value } => write!(f, "min {value}"),
            FeatureRule::Max { value } => write!(f, "max {value}"),
            FeatureRule::Allowed { values } => {
                let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                write!(f, "allowed [{}]", shown.join(", "))
            }
            FeatureRule::MinLength { value } => write!(f, "min_length {value}"),
            FeatureRule::MaxLength { value } => write!(f, "max_length {value}"),
            FeatureRule::Regex { pattern } => write!(f, "regex {pattern:?}"),
        }
    }
}

/// Drift thresholds declared on a view (`drift: { psi: 0.2, ks: 0.1,
/// chi_square_p: 0.01 }`); an absent one takes the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi_square_p: Option<f64>,
}

/// A drift threshold as written: a number, PSI at least 0, KS and the p-value in [0, 1].
pub(crate) fn drift_threshold(name: &str, text: &str) -> Result<f64, String> {
    let value = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("`{text}` is not a number"))?;
    let ok = match name {
        "psi" => value >= 0.0,
        _ => (0.0..=1.0).contains(&value),
    };
    if ok {
        Ok(value)
    } else if name == "psi" {
        Err("a PSI threshold is at least 0".into())
    } else {
        Err(format!("a `{name}` threshold is between 0 and 1"))
    }
}

/// One check as written, before it is typed against its feature (the parts
/// are texts: YAML scalars of any kind).
pub(crate) struct CheckText<'a> {
    pub check: &'a str,
    pub value: Option<&'a str>,
    pub values: Option<Vec<&'a str>>,
    pub pattern: Option<&'a str>,
    pub policy: Option<&'a str>,
}

/// Which part of a check an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckPart {
    Check,
    Value,
    Values,
    Pattern,
    Policy,
}

impl CheckPart {
    pub fn field(self) -> &'static str {
        match self {
            CheckPart::Check => "check",
            CheckPart::Value => "value",
            CheckPart::Values => "values",
            CheckPart::Pattern => "pattern",
            CheckPart::Policy => "policy",
        }
    }
}

type CheckResult<T> = Result<T, (CheckPart, String)>;

fn policy(text: &CheckText<'_>) -> CheckResult<CheckPolicy> {
    text.policy
        .map(CheckPolicy::parse)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| (CheckPart::Policy, e))
}

/// Rejects parts a check does not take, so a typo is not silently ignored.
fn only(text: &CheckText<'_>, takes: &[CheckPart]) -> CheckResult<()> {
    let given = [
        (CheckPart::Value, text.value.is_some()),
        (CheckPart::Values, text.values.is_some()),
        (CheckPart::Pattern, text.pattern.is_some()),
    ];
    for (part, present) in given {
        if present && !takes.contains(&part) {
            return Err((
                part,
                format!("check `{}` takes no `{}`", text.check, part.field()),
            ));
        }
    }
    Ok(())
}

fn number(text: &CheckText<'_>) -> CheckResult<f64> {
    let raw = text.value.ok_or_else(|| {
        (
            CheckPart::Value,
            format!("check `{}` needs a `value`", text.check),
        )
    })?;
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| (CheckPart::Value, format!("`{raw}` is not a number")))
}

fn count(text: &CheckText<'_>) -> CheckResult<u64> {
    let value = number(text)?;
    if value < 0.0 || value.fract() != 0.0 {
        return Err((
            CheckPart::Value,
            format!("`{}` needs a whole number >= 0", text.check),
        ));
    }
    Ok(value as u64)
}

fn is_numeric(dtype: ValueType) -> bool {
    matches!(
        dtype,
        ValueType::Scalar(
            ScalarType::Int32 | ScalarType::Int64 | ScalarType::Float32 | ScalarType::Float64
        )
    )
}

fn needs(dtype: ValueType, ok: bool, check: &str, what: &str) -> CheckResult<()> {
    if ok {
        Ok(())
    } else {
        Err((
            CheckPart::Check,
            format!("check `{check}` needs a {what} feature, not {dtype}"),
        ))
    }
}

/// Types a feature check against the feature's declared type.
pub(crate) fn feature_check(text: &CheckText<'_>, dtype: ValueType) -> CheckResult<FeatureCheck> {
    let string = dtype == ValueType::Scalar(ScalarType::String);
    let rule = match text.check {
        "not_null" => {
            only(text, &[])?;
            FeatureRule::NotNull
        }
        "min" | "max" => {
            only(text, &[CheckPart::Value])?;
            needs(dtype, is_numeric(dtype), text.check, "numeric")?;
            let value = number(text)?;
            if text.check == "min" {
                FeatureRule::Min { value }
            } else {
                FeatureRule::Max { value }
            }
        }
        "max_null_fraction" => {
            only(text, &[CheckPart::Value])?;
            let value = number(text)?;
            if !(0.0..=1.0).contains(&value) {
                return Err((CheckPart::Value, "a fraction is between 0 and 1".into()));
            }
            FeatureRule::MaxNullFraction { value }
        }
        "min_length" | "max_length" => {
            only(text, &[CheckPart::Value])?;
            needs(dtype, string, text.check, "string")?;
            let value = count(text)?;
            if text.check == "min_length" {
                FeatureRule::MinLength { value }
            } else {
                FeatureRule::MaxLength { value }
            }
        }
        "regex" => {
            only(text, &[CheckPart::Pattern])?;
            needs(dtype, string, text.check, "string")?;
            let pattern = text
                .pattern
                .ok_or_else(|| (CheckPart::Pattern, "check `regex` needs a `pattern`".into()))?;
            // Validated as it runs: anchored to the whole value.
            regex::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| (CheckPart::Pattern, format!("invalid regex: {e}")))?;
            FeatureRule::Regex {
                pattern: pattern.to_string(),
            }
        }
        "allowed" => {
            only(text, &[CheckPart::Values])?;
            let texts = text.values.as_ref().ok_or_else(|| {
                (
                    CheckPart::Values,
                    "check `allowed` needs a list of `values`".into(),
                )
            })?;
            let values = texts
                .iter()
                .map(|v| allowed_value(v, dtype))
                .collect::<CheckResult<Vec<_>>>()?;
            FeatureRule::Allowed { values }
        }
        other => {
            return Err((
                CheckPart::Check,
                format!(
                    "unknown feature check `{other}` (expected not_null, min, max, allowed, \
                     max_null_fraction, min_length, max_length or regex)"
                ),
            ));
        }
    };
    let policy = policy(text)?;
    if !rule.is_per_row() && policy == CheckPolicy::Drop {
        return Err(rows_together(text.check));
    }
    Ok(FeatureCheck { rule, policy })
}

/// A check on rows taken together has no row to drop.
fn rows_together(check: &str) -> (CheckPart, String) {
    (
        CheckPart::Policy,
        format!("check `{check}` judges the rows together: its policy is fail or warn, not drop"),
    )
}

/// One allowed value, typed as the feature is.
fn allowed_value(text: &str, dtype: ValueType) -> CheckResult<serde_json::Value> {
    let bad = |what: &str| (CheckPart::Values, format!("`{text}` is not {what}"));
    match dtype {
        ValueType::Scalar(ScalarType::String) => Ok(serde_json::Value::from(text)),
        ValueType::Scalar(ScalarType::Bool) => match text {
            "true" => Ok(true.into()),
            "false" => Ok(false.into()),
            _ => Err(bad("a bool")),
        },
        ValueType::Scalar(ScalarType::Int32 | ScalarType::Int64) => text
            .trim()
            .parse::<i64>()
            .map(Into::into)
            .map_err(|_| bad("an integer")),
        ValueType::Scalar(ScalarType::Float32 | ScalarType::Float64) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(serde_json::Value::Number)
            .ok_or_else(|| bad("a number")),
        other => Err((
            CheckPart::Check,
            format!("check `allowed` needs a string, bool or numeric feature, not {other}"),
        )),
    }
}

/// Types a view check.
pub(crate) fn view_check(text: &CheckText<'_>) -> CheckResult<ViewCheck> {
    let rule = match text.check {
        "not_empty" => ViewRule::NotEmpty,
        "unique" => ViewRule::Unique,
        other => {
            return Err((
                CheckPart::Check,
                format!("unknown view check `{other}` (expected not_empty or unique)"),
            ));
        }
    };
    only(text, &[])?;
    let policy = policy(text)?;
    if rule == ViewRule::NotEmpty && policy == CheckPolicy::Drop {
        return Err(rows_together(text.check));
    }
    Ok(ViewCheck { rule, policy })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(check: &'a str, value: Option<&'a str>) -> CheckText<'a> {
        CheckText {
            check,
            value,
            values: None,
            pattern: None,
            policy: None,
        }
    }

    const F32: ValueType = ValueType::Scalar(ScalarType::Float32);
    const STRING: ValueType = ValueType::Scalar(ScalarType::String);

    #[test]
    fn checks_are_typed_against_their_feature() {
        let min = feature_check(&text("min", Some("0")), F32).expect("min");
        assert_eq!(min.rule, FeatureRule::Min { value: 0.0 });
        assert_eq!(min.policy, CheckPolicy::Fail);
        let err = feature_check(&text("min", Some("zero")), F32).expect_err("not a number");
        assert_eq!(err.0, CheckPart::Value);
        let err = feature_check(&text("min", Some("1")), STRING).expect_err("string");
        assert!(err.1.contains("numeric feature"), "{}", err.1);
        let err = feature_check(&text("max_length", Some("3")), F32).expect_err("float");
        assert!(err.1.contains("string feature"), "{}", err.1);
        let err = feature_check(&text("not_null", Some("1")), F32).expect_err("extra");
        assert_eq!(err.0, CheckPart::Value);
        let err = feature_check(&text("positive", None), F32).expect_err("unknown");
        assert!(
            err.1.contains("unknown feature check `positive`"),
            "{}",
            err.1
        );
        let mut bad_policy = text("not_null", None);
        bad_policy.policy = Some("ignore");
        assert_eq!(
            feature_check(&bad_policy, F32).expect_err("policy").0,
            CheckPart::Policy
        );
        let mut regex = text("regex", None);
        regex.pattern = Some("(");
        assert_eq!(
            feature_check(&regex, STRING).expect_err("regex").0,
            CheckPart::Pattern
        );
        let mut fraction = text("max_null_fraction", Some("0.1"));
        fraction.policy = Some("drop");
        assert!(feature_check(&fraction, F32).is_err());
        let mut allowed = text("allowed", None);
        allowed.values = Some(vec!["1", "2"]);
        let rule = feature_check(&allowed, ValueType::Scalar(ScalarType::Int64))
            .expect("allowed")
            .rule;
        assert_eq!(
            rule,
            FeatureRule::Allowed {
                values: vec![1.into(), 2.into()]
            }
        );
        allowed.values = Some(vec!["x"]);
        assert!(feature_check(&allowed, ValueType::Scalar(ScalarType::Int64)).is_err());
    }

    #[test]
    fn checks_round_trip_through_the_registry_form() {
        let check = FeatureCheck {
            rule: FeatureRule::Regex {
                pattern: "^C\\d+$".into(),
            },
            policy: CheckPolicy::Drop,
        };
        let json = serde_json::to_value(&check).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"check": "regex", "pattern": "^C\\d+$", "policy": "drop"})
        );
        let back: FeatureCheck = serde_json::from_value(json).expect("back");
        assert_eq!(back, check);
        let view = view_check(&text("unique", None)).expect("unique");
        assert_eq!(
            serde_json::to_value(&view).expect("json"),
            serde_json::json!({"check": "unique", "policy": "fail"})
        );
    }
}
