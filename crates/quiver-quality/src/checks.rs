//! Enforcing a view's declared checks on its rows, as Arrow batches in the
//! view's layout: the one code path behind batch materialization, the Kafka
//! ingest and push.
//!
//! Per-row checks judge each row; `fail` stops at the first violation, `drop`
//! leaves the row out (the first dropping check is its reason), `warn` counts.
//! Checks on the rows together (`max_null_fraction`, `not_empty`) are judged
//! by [`ViewChecks::finish`] over everything one [`CheckTally`] saw.
//!
//! Before the declared checks, every row passes the [built-in
//! checks](crate::builtin) (keys and event time present, timestamps in range);
//! the rows they drop are counted, and no declared check judges them.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Float32Type, Float64Type};
use quiver_core::{
    CheckPolicy, FeatureCheck, FeatureRule, FeatureViewSpec, ScalarType, ValueType, ViewRule,
};
use serde::{Deserialize, Serialize};

use crate::builtin::RowRules;
use crate::unique::SeenRows;

/// How often one check was violated, as the run record and metrics show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckCount {
    /// `feature:check` (or `view:check` for view checks).
    pub check: String,
    pub policy: CheckPolicy,
    pub violations: u64,
}

/// Adds `more` into `totals` (violations of the same check summed), keeping
/// `totals` ordered by check: how counts of many pushes, messages or batches
/// add up to a window's or a process's.
pub fn add_counts(totals: &mut Vec<CheckCount>, more: &[CheckCount]) {
    for count in more {
        match totals.binary_search_by(|t| t.check.cmp(&count.check)) {
            Ok(at) => totals[at].violations += count.violations,
            Err(at) => totals.insert(at, count.clone()),
        }
    }
}

/// A `fail` check that was violated: the run, push or batch stops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check `{check}` failed: {detail}")]
pub struct CheckFailure {
    pub check: String,
    pub detail: String,
}

/// Why checks cannot be set up (a definition the registry should not have taken).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckSetupError {
    #[error("check `{check}`: {detail}")]
    Invalid { check: String, detail: String },
}

/// What one checked batch keeps.
#[derive(Debug, Clone)]
pub struct Checked {
    pub batch: RecordBatch,
    /// Rows left out, as (row index in the input batch, the check that dropped it).
    pub dropped: Vec<(usize, String)>,
}

/// The counts of one window, push or micro-batch.
#[derive(Debug, Clone, Default)]
pub struct CheckTally {
    rows: u64,
    nulls: BTreeMap<String, u64>,
    violations: BTreeMap<String, (CheckPolicy, u64)>,
    /// The (keys, event time) of every row kept, for `unique` (memory grows
    /// with the rows checked together: a window, a push).
    seen: SeenRows,
}

impl CheckTally {
    /// The violations counted so far, by check.
    pub fn counts(&self) -> Vec<CheckCount> {
        self.violations
            .iter()
            .map(|(check, (policy, violations))| CheckCount {
                check: check.clone(),
                policy: *policy,
                violations: *violations,
            })
            .collect()
    }

    /// Rows judged (before any was dropped).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn count(&mut self, check: &str, policy: CheckPolicy, n: u64) {
        let entry = self
            .violations
            .entry(check.to_string())
            .or_insert((policy, 0));
        entry.1 += n;
    }
}

struct Compiled {
    feature: String,
    name: String,
    check: FeatureCheck,
    regex: Option<regex::Regex>,
}

/// A view's checks, ready to run.
pub struct ViewChecks {
    features: Vec<Compiled>,
    unique: Option<CheckPolicy>,
    not_empty: Option<CheckPolicy>,
    /// Columns that identify a row for `unique`: the join keys and the event time.
    identity: Vec<String>,
    builtin: RowRules,
}

impl fmt::Debug for ViewChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.features.iter().map(|c| c.name.as_str()).collect();
        f.debug_struct("ViewChecks")
            .field("features", &names)
            .field("unique", &self.unique)
            .field("not_empty", &self.not_empty)
            .finish()
    }
}

impl ViewChecks {
    /// The checks of `view`, whose rows carry `key_columns`, `event_ts_column`
    /// and `created_ts_column` (and the features under their names).
    pub fn new(
        view: &FeatureViewSpec,
        key_columns: &[String],
        event_ts_column: &str,
        created_ts_column: &str,
    ) -> Result<Self, CheckSetupError> {
        let mut features = Vec::new();
        for feature in &view.features {
            for check in &feature.checks {
                let name = format!("{}:{}", feature.name, check.rule.name());
                let regex = match &check.rule {
                    FeatureRule::Regex { pattern } => {
                        Some(regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                            CheckSetupError::Invalid {
                                check: name.clone(),
                                detail: e.to_string(),
                            }
                        })?)
                    }
                    _ => None,
                };
                features.push(Compiled {
                    feature: feature.name.clone(),
                    name,
                    check: check.clone(),
                    regex,
                });
            }
        }
        let policy_of = |rule: ViewRule| {
            view.checks
                .iter()
                .find(|c| c.rule == rule)
                .map(|c| c.policy)
        };
        let mut identity = key_columns.to_vec();
        identity.push(event_ts_column.to_string());
        let timestamps = std::iter::once(created_ts_column.to_string())
            .chain(
                view.features
                    .iter()
                    .filter(|f| {
                        matches!(
                            f.dtype,
                            ValueType::Scalar(ScalarType::Timestamp)
                                | ValueType::List(ScalarType::Timestamp)
                        )
                    })
                    .map(|f| f.name.clone()),
            )
            .collect();
        Ok(Self {
            features,
            unique: policy_of(ViewRule::Unique),
            not_empty: policy_of(ViewRule::NotEmpty),
            builtin: RowRules::new(key_columns, event_ts_column, timestamps),
            identity,
        })
    }

    /// Whether the view declares no check at all (the built-in checks are
    /// always there: rows that were decoded, not read, never break them).
    pub fn has_no_declared_checks(&self) -> bool {
        self.features.is_empty() && self.unique.is_none() && self.not_empty.is_none()
    }

    /// Judges `batch`: counts into `tally`, returns the rows kept, or the
    /// first `fail` check violated.
    pub fn check(
        &self,
        batch: &RecordBatch,
        tally: &mut CheckTally,
    ) -> Result<Checked, CheckFailure> {
        self.judge_rows(batch, tally, false)
    }

    /// As [`ViewChecks::check`] for rows that cannot stop anything (a
    /// stream's): a violated `fail` check refuses its rows like `drop`, and
    /// every check judges every row.
    pub fn check_each(
        &self,
        batch: &RecordBatch,
        tally: &mut CheckTally,
    ) -> Result<Checked, CheckFailure> {
        self.judge_rows(batch, tally, true)
    }

    /// The built-in checks, then the declared ones on the rows they keep.
    fn judge_rows(
        &self,
        batch: &RecordBatch,
        tally: &mut CheckTally,
        fail_drops: bool,
    ) -> Result<Checked, CheckFailure> {
        let broken = self.builtin.judge(batch).map_err(|detail| CheckFailure {
            check: "built-in checks".into(),
            detail,
        })?;
        if broken.iter().all(Option::is_none) {
            return self.judge_declared(batch, tally, fail_drops);
        }
        for rule in crate::builtin::BUILTIN_CHECKS {
            let count = broken.iter().filter(|b| **b == Some(rule)).count();
            if count > 0 {
                tally.count(rule, CheckPolicy::Drop, count as u64);
            }
        }
        let keep: BooleanArray = broken.iter().map(|b| Some(b.is_none())).collect();
        let kept = filter_record_batch(batch, &keep).map_err(|e| CheckFailure {
            check: "built-in checks".into(),
            detail: e.to_string(),
        })?;
        let mut checked = self.judge_declared(&kept, tally, fail_drops)?;
        // Row numbers of `kept` back to those of `batch`.
        let kept_rows: Vec<usize> = (0..broken.len()).filter(|i| broken[*i].is_none()).collect();
        let mut dropped: Vec<(usize, String)> = broken
            .iter()
            .enumerate()
            .filter_map(|(i, rule)| rule.map(|rule| (i, rule.to_string())))
            .collect();
        dropped.extend(
            checked
                .dropped
                .drain(..)
                .map(|(row, check)| (kept_rows[row], check)),
        );
        dropped.sort_unstable_by_key(|(row, _)| *row);
        checked.dropped = dropped;
        Ok(checked)
    }

    fn judge_declared(
        &self,
        batch: &RecordBatch,
        tally: &mut CheckTally,
        fail_drops: bool,
    ) -> Result<Checked, CheckFailure> {
        let rows = batch.num_rows();
        let mut dropped_by: Vec<Option<&str>> = vec![None; rows];
        for compiled in &self.features {
            if !compiled.check.rule.is_per_row() {
                continue;
            }
            let column = column(batch, &compiled.feature).map_err(|detail| CheckFailure {
                check: compiled.name.clone(),
                detail,
            })?;
            let violated = violations(compiled, column).map_err(|detail| CheckFailure {
                check: compiled.name.clone(),
                detail,
            })?;
            let count = violated.iter().filter(|v| **v).count();
            self.judge(
                tally,
                &compiled.name,
                (compiled.check.policy, fail_drops),
                &violated,
                count,
                &mut dropped_by,
                || {
                    let first = violated.iter().position(|v| *v).unwrap_or(0);
                    format!(
                        "{count} of {rows} rows violate `{}` (the first: row {first}, value {})",
                        compiled.check.rule,
                        shown(column, first)
                    )
                },
            )?;
        }
        if let Some(policy) = self.unique {
            let violated = self
                .duplicates(batch, &dropped_by, tally)
                .map_err(|detail| CheckFailure {
                    check: "view:unique".into(),
                    detail,
                })?;
            let count = violated.iter().filter(|v| **v).count();
            self.judge(
                tally,
                "view:unique",
                (policy, fail_drops),
                &violated,
                count,
                &mut dropped_by,
                || format!("{count} rows repeat the join keys and event time of an earlier row"),
            )?;
        }
        let dropped: Vec<(usize, String)> = dropped_by
            .iter()
            .enumerate()
            .filter_map(|(i, by)| by.map(|by| (i, by.to_string())))
            .collect();
        let kept = if dropped.is_empty() {
            batch.clone()
        } else {
            let keep: BooleanArray = dropped_by.iter().map(|by| Some(by.is_none())).collect();
            filter_record_batch(batch, &keep).map_err(|e| CheckFailure {
                check: dropped[0].1.clone(),
                detail: e.to_string(),
            })?
        };
        // The checks on the rows together judge what is kept.
        tally.rows += kept.num_rows() as u64;
        let mut counted = HashSet::new();
        for compiled in &self.features {
            if compiled.check.rule.is_per_row() || !counted.insert(compiled.feature.as_str()) {
                continue;
            }
            let column = column(&kept, &compiled.feature).map_err(|detail| CheckFailure {
                check: compiled.name.clone(),
                detail,
            })?;
            *tally.nulls.entry(compiled.feature.clone()).or_insert(0) += column.null_count() as u64;
        }
        Ok(Checked {
            batch: kept,
            dropped,
        })
    }

    /// Counts a check's violations and acts on its policy; with `fail_drops`,
    /// `fail` drops the rows (counted as `fail`).
    #[allow(clippy::too_many_arguments)]
    fn judge<'a>(
        &self,
        tally: &mut CheckTally,
        name: &'a str,
        (policy, fail_drops): (CheckPolicy, bool),
        violated: &[bool],
        count: usize,
        dropped_by: &mut [Option<&'a str>],
        detail: impl FnOnce() -> String,
    ) -> Result<(), CheckFailure> {
        if count == 0 {
            return Ok(());
        }
        tally.count(name, policy, count as u64);
        match policy {
            CheckPolicy::Fail if !fail_drops => Err(CheckFailure {
                check: name.to_string(),
                detail: detail(),
            }),
            CheckPolicy::Fail | CheckPolicy::Drop => {
                for (by, violated) in dropped_by.iter_mut().zip(violated) {
                    if *violated && by.is_none() {
                        *by = Some(name);
                    }
                }
                Ok(())
            }
            CheckPolicy::Warn => Ok(()),
        }
    }

    /// Rows whose (keys, event time) an earlier kept row (of this batch or an
    /// earlier one of the tally) already had; rows other checks dropped are
    /// neither judged nor remembered.
    fn duplicates(
        &self,
        batch: &RecordBatch,
        dropped_by: &[Option<&str>],
        tally: &mut CheckTally,
    ) -> Result<Vec<bool>, String> {
        let columns: Vec<ArrayRef> = self
            .identity
            .iter()
            .map(|name| column(batch, name).cloned())
            .collect::<Result<_, _>>()?;
        tally.seen.insert(&columns, |row| dropped_by[row].is_none())
    }

    /// Judges the checks on the rows together, over all `tally` saw.
    pub fn finish(&self, tally: &mut CheckTally) -> Result<(), CheckFailure> {
        if let Some(policy) = self.not_empty
            && tally.rows == 0
        {
            tally.count("view:not_empty", policy, 1);
            if policy == CheckPolicy::Fail {
                return Err(CheckFailure {
                    check: "view:not_empty".into(),
                    detail: "no rows".into(),
                });
            }
        }
        for compiled in &self.features {
            let FeatureRule::MaxNullFraction { value } = compiled.check.rule else {
                continue;
            };
            let nulls = tally.nulls.get(&compiled.feature).copied().unwrap_or(0);
            if tally.rows == 0 {
                continue;
            }
            let fraction = nulls as f64 / tally.rows as f64;
            if fraction > value {
                tally.count(&compiled.name, compiled.check.policy, nulls);
                if compiled.check.policy == CheckPolicy::Fail {
                    return Err(CheckFailure {
                        check: compiled.name.clone(),
                        detail: format!(
                            "{nulls} of {} rows are null ({:.4}), over {value}",
                            tally.rows, fraction
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, String> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("the rows have no column `{name}`"))
}

/// Which rows of `column` violate the check (a null violates only `not_null`).
fn violations(compiled: &Compiled, column: &ArrayRef) -> Result<Vec<bool>, String> {
    let rows = column.len();
    let valid = |i: usize| column.is_valid(i);
    Ok(match &compiled.check.rule {
        FeatureRule::NotNull => (0..rows).map(|i| !valid(i)).collect(),
        FeatureRule::Min { value } => outside(column, |x| x < *value as f32, |x| x < *value)?,
        FeatureRule::Max { value } => outside(column, |x| x > *value as f32, |x| x > *value)?,
        FeatureRule::Allowed { values } => allowed(column, values)?,
        FeatureRule::MinLength { value } => lengths(column)?
            .map(|len| len.is_some_and(|len| len < *value))
            .collect(),
        FeatureRule::MaxLength { value } => lengths(column)?
            .map(|len| len.is_some_and(|len| len > *value))
            .collect(),
        FeatureRule::Regex { .. } => {
            let regex = compiled
                .regex
                .as_ref()
                .ok_or_else(|| "the regex was not compiled".to_string())?;
            let texts = texts(column)?;
            let texts = texts.as_string::<i32>();
            (0..rows)
                .map(|i| valid(i) && !regex.is_match(texts.value(i)))
                .collect()
        }
        FeatureRule::MaxNullFraction { .. } => vec![false; rows],
    })
}

/// Rows whose value is beyond a bound: float32 values are compared with the
/// bound as float32 (`f32_beyond`: a stored `0.1f32` is not above `max: 0.1`),
/// others as float64 (`beyond`); NaN is always beyond.
fn outside(
    column: &ArrayRef,
    f32_beyond: impl Fn(f32) -> bool,
    beyond: impl Fn(f64) -> bool,
) -> Result<Vec<bool>, String> {
    let rows = column.len();
    if column.data_type() == &DataType::Float32 {
        let values = column.as_primitive::<Float32Type>();
        return Ok((0..rows)
            .map(|i| {
                values.is_valid(i) && (values.value(i).is_nan() || f32_beyond(values.value(i)))
            })
            .collect());
    }
    let numbers = numbers(column)?;
    let values = numbers.as_primitive::<Float64Type>();
    Ok((0..rows)
        .map(|i| values.is_valid(i) && (values.value(i).is_nan() || beyond(values.value(i))))
        .collect())
}

fn numbers(column: &ArrayRef) -> Result<ArrayRef, String> {
    cast(column, &DataType::Float64).map_err(|e| format!("not numeric: {e}"))
}

fn texts(column: &ArrayRef) -> Result<ArrayRef, String> {
    cast(column, &DataType::Utf8).map_err(|e| format!("not text: {e}"))
}

fn lengths(column: &ArrayRef) -> Result<impl Iterator<Item = Option<u64>>, String> {
    let texts = texts(column)?;
    let lengths: Vec<Option<u64>> = texts
        .as_string::<i32>()
        .iter()
        .map(|t| t.map(|t| t.chars().count() as u64))
        .collect();
    Ok(lengths.into_iter())
}

fn allowed(column: &ArrayRef, values: &[serde_json::Value]) -> Result<Vec<bool>, String> {
    let rows = column.len();
    Ok(match column.data_type() {
        DataType::Boolean => {
            let set: Vec<bool> = values.iter().filter_map(|v| v.as_bool()).collect();
            let bools = column.as_boolean();
            (0..rows)
                .map(|i| bools.is_valid(i) && !set.contains(&bools.value(i)))
                .collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let set: HashSet<&str> = values.iter().filter_map(|v| v.as_str()).collect();
            let texts = texts(column)?;
            let texts = texts.as_string::<i32>();
            (0..rows)
                .map(|i| texts.is_valid(i) && !set.contains(texts.value(i)))
                .collect()
        }
        DataType::Float32 => {
            let set: Vec<f32> = values
                .iter()
                .filter_map(|v| v.as_f64())
                .map(|v| v as f32)
                .collect();
            let floats = column.as_primitive::<Float32Type>();
            (0..rows)
                .map(|i| floats.is_valid(i) && !set.contains(&floats.value(i)))
                .collect()
        }
        _ => {
            let set: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
            let numbers = numbers(column)?;
            let numbers = numbers.as_primitive::<Float64Type>();
            (0..rows)
                .map(|i| numbers.is_valid(i) && !set.contains(&numbers.value(i)))
                .collect()
        }
    })
}

/// One value for an error message.
fn shown(column: &ArrayRef, row: usize) -> String {
    if column.is_null(row) {
        return "null".into();
    }
    arrow::util::display::array_value_to_string(column, row).unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Array, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema, TimeUnit};
    use quiver_core::{FeatureSpec, ScalarType, ValueType, ViewCheck};

    use super::*;

    fn view(
        checks: Vec<(&str, FeatureRule, CheckPolicy)>,
        view_checks: Vec<ViewCheck>,
    ) -> FeatureViewSpec {
        let feature = |name: &str, dtype: ScalarType| FeatureSpec {
            name: name.into(),
            dtype: ValueType::Scalar(dtype),
            description: None,
            checks: checks
                .iter()
                .filter(|(f, _, _)| *f == name)
                .map(|(_, rule, policy)| FeatureCheck {
                    rule: rule.clone(),
                    policy: *policy,
                })
                .collect(),
        };
        FeatureViewSpec {
            name: "v".into(),
            entities: vec!["driver".into()],
            source: "s".into(),
            stream_source: None,
            ttl: None,
            online: true,
            features: vec![
                feature("rate", ScalarType::Float32),
                feature("segment", ScalarType::String),
            ],
            checks: view_checks,
            drift: None,
            description: None,
            tags: Default::default(),
        }
    }

    fn batch(
        ids: &[i64],
        ts: &[i64],
        rates: &[Option<f32>],
        segments: &[Option<&str>],
    ) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("driver_id", DataType::Int64, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new(
                "created",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ),
            Field::new("rate", DataType::Float32, true),
            Field::new("segment", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(TimestampMicrosecondArray::from(ts.to_vec())),
                Arc::new(TimestampMicrosecondArray::from(vec![None; ids.len()])),
                Arc::new(Float32Array::from(rates.to_vec())),
                Arc::new(StringArray::from(segments.to_vec())),
            ],
        )
        .expect("batch")
    }

    fn checks(view: &FeatureViewSpec) -> ViewChecks {
        ViewChecks::new(view, &["driver_id".to_string()], "ts", "created").expect("checks")
    }

    fn rows() -> RecordBatch {
        batch(
            &[1, 2, 3, 4],
            &[10, 10, 10, 10],
            &[Some(0.5), Some(-1.0), None, Some(2.0)],
            &[Some("gold"), Some("tin"), Some("gold"), None],
        )
    }

    #[test]
    fn counts_add_up_by_check() {
        let count = |check: &str, violations| CheckCount {
            check: check.into(),
            policy: CheckPolicy::Warn,
            violations,
        };
        let mut totals = Vec::new();
        add_counts(&mut totals, &[count("b:min", 2), count("a:max", 1)]);
        add_counts(&mut totals, &[count("b:min", 3)]);
        assert_eq!(totals, [count("a:max", 1), count("b:min", 5)]);
    }

    #[test]
    fn drop_leaves_rows_out_warn_counts_fail_stops() {
        let spec = view(
            vec![
                ("rate", FeatureRule::Min { value: 0.0 }, CheckPolicy::Drop),
                ("rate", FeatureRule::Max { value: 1.0 }, CheckPolicy::Warn),
                ("rate", FeatureRule::NotNull, CheckPolicy::Drop),
            ],
            vec![],
        );
        let mut tally = CheckTally::default();
        let checked = checks(&spec).check(&rows(), &mut tally).expect("checked");
        assert_eq!(checked.batch.num_rows(), 2);
        assert_eq!(
            checked.dropped,
            vec![
                (1, "rate:min".to_string()),
                (2, "rate:not_null".to_string())
            ]
        );
        let counts: Vec<(String, u64)> = tally
            .counts()
            .into_iter()
            .map(|c| (c.check, c.violations))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("rate:max".to_string(), 1),
                ("rate:min".to_string(), 1),
                ("rate:not_null".to_string(), 1)
            ]
        );

        let failing = view(
            vec![("rate", FeatureRule::Min { value: 0.0 }, CheckPolicy::Fail)],
            vec![],
        );
        let error = checks(&failing)
            .check(&rows(), &mut CheckTally::default())
            .expect_err("fails");
        assert_eq!(error.check, "rate:min");
        assert!(error.detail.contains("1 of 4 rows"), "{}", error.detail);
        assert!(error.detail.contains("value -1"), "{}", error.detail);
    }

    #[test]
    fn rows_that_cannot_stop_anything_are_refused_by_fail_checks() {
        let spec = view(
            vec![
                ("rate", FeatureRule::Min { value: 0.0 }, CheckPolicy::Fail),
                ("rate", FeatureRule::NotNull, CheckPolicy::Drop),
            ],
            vec![],
        );
        let mut tally = CheckTally::default();
        let checked = checks(&spec)
            .check_each(&rows(), &mut tally)
            .expect("a stream's rows are judged, not stopped");
        assert_eq!(
            checked.dropped,
            vec![
                (1, "rate:min".to_string()),
                (2, "rate:not_null".to_string())
            ]
        );
        let counts: Vec<(String, CheckPolicy, u64)> = tally
            .counts()
            .into_iter()
            .map(|c| (c.check, c.policy, c.violations))
            .collect();
        assert_eq!(
            counts,
            [
                ("rate:min".to_string(), CheckPolicy::Fail, 1),
                ("rate:not_null".to_string(), CheckPolicy::Drop, 1)
            ]
        );
    }

    #[test]
    fn float32_values_meet_their_bounds_and_nan_never_does() {
        let spec = view(
            vec![
                ("rate", FeatureRule::Max { value: 0.1 }, CheckPolicy::Warn),
                (
                    "rate",
                    FeatureRule::Allowed {
                        values: vec![serde_json::json!(0.1)],
                    },
                    CheckPolicy::Warn,
                ),
            ],
            vec![],
        );
        let rows = batch(
            &[1, 2],
            &[1, 1],
            &[Some(0.1), Some(f32::NAN)],
            &[None, None],
        );
        let mut tally = CheckTally::default();
        checks(&spec).check(&rows, &mut tally).expect("checked");
        let counts: BTreeMap<String, u64> = tally
            .counts()
            .into_iter()
            .map(|c| (c.check, c.violations))
            .collect();
        assert_eq!(counts["rate:max"], 1, "only NaN is over 0.1");
        assert_eq!(counts["rate:allowed"], 1, "0.1f32 is the allowed 0.1");
    }

    #[test]
    fn string_checks_allowed_length_and_anchored_regex() {
        let spec = view(
            vec![
                (
                    "segment",
                    FeatureRule::Allowed {
                        values: vec!["gold".into(), "silver".into()],
                    },
                    CheckPolicy::Warn,
                ),
                (
                    "segment",
                    FeatureRule::MaxLength { value: 3 },
                    CheckPolicy::Warn,
                ),
                (
                    "segment",
                    FeatureRule::Regex {
                        pattern: "g.l".into(),
                    },
                    CheckPolicy::Warn,
                ),
            ],
            vec![],
        );
        let mut tally = CheckTally::default();
        checks(&spec).check(&rows(), &mut tally).expect("checked");
        let counts: BTreeMap<String, u64> = tally
            .counts()
            .into_iter()
            .map(|c| (c.check, c.violations))
            .collect();
        assert_eq!(counts["segment:allowed"], 1); // tin; null is not judged
        assert_eq!(counts["segment:max_length"], 2); // gold twice
        assert_eq!(counts["segment:regex"], 3); // "g.l" must match all of "gold"
    }

    #[test]
    fn checks_on_rows_together_are_judged_at_the_end() {
        let spec = view(
            vec![(
                "rate",
                FeatureRule::MaxNullFraction { value: 0.2 },
                CheckPolicy::Fail,
            )],
            vec![ViewCheck {
                rule: ViewRule::NotEmpty,
                policy: CheckPolicy::Fail,
            }],
        );
        let checks = checks(&spec);
        let mut empty = CheckTally::default();
        assert_eq!(
            checks.finish(&mut empty).expect_err("empty").check,
            "view:not_empty"
        );
        let mut tally = CheckTally::default();
        checks
            .check(&rows(), &mut tally)
            .expect("per-row checks pass");
        let error = checks.finish(&mut tally).expect_err("1 of 4 is null");
        assert_eq!(error.check, "rate:max_null_fraction");
        let mut tally = CheckTally::default();
        let full = batch(&[1, 2, 3, 4, 5], &[1; 5], &[Some(1.0); 5], &[None; 5]);
        checks.check(&full, &mut tally).expect("checked");
        checks.check(&rows(), &mut tally).expect("checked");
        checks.finish(&mut tally).expect("1 of 9 is under 0.2");
    }

    #[test]
    fn unique_spans_batches_and_drops_repeats() {
        let spec = view(
            vec![],
            vec![ViewCheck {
                rule: ViewRule::Unique,
                policy: CheckPolicy::Drop,
            }],
        );
        let checks = checks(&spec);
        let mut tally = CheckTally::default();
        let first = batch(&[1, 1, 2], &[10, 20, 10], &[None; 3], &[None; 3]);
        assert_eq!(
            checks
                .check(&first, &mut tally)
                .expect("first")
                .batch
                .num_rows(),
            3
        );
        let again = batch(&[1, 2, 1], &[10, 30, 10], &[None; 3], &[None; 3]);
        let checked = checks.check(&again, &mut tally).expect("again");
        assert_eq!(
            checked.dropped,
            vec![
                (0, "view:unique".to_string()),
                (2, "view:unique".to_string())
            ]
        );
        assert!(!checks.has_no_declared_checks());
    }

    #[test]
    fn rows_dropped_by_a_check_count_neither_for_unique_nor_for_not_empty() {
        let spec = view(
            vec![("rate", FeatureRule::NotNull, CheckPolicy::Drop)],
            vec![
                ViewCheck {
                    rule: ViewRule::Unique,
                    policy: CheckPolicy::Drop,
                },
                ViewCheck {
                    rule: ViewRule::NotEmpty,
                    policy: CheckPolicy::Fail,
                },
            ],
        );
        let checks = checks(&spec);
        let mut tally = CheckTally::default();
        let twins = batch(&[1, 1], &[10, 10], &[None, Some(0.5)], &[None; 2]);
        let checked = checks.check(&twins, &mut tally).expect("checked");
        assert_eq!(checked.dropped, vec![(0, "rate:not_null".to_string())]);
        let mut all_dropped = CheckTally::default();
        checks
            .check(&batch(&[2], &[1], &[None], &[None]), &mut all_dropped)
            .expect("checked");
        assert_eq!(
            checks
                .finish(&mut all_dropped)
                .expect_err("nothing kept")
                .check,
            "view:not_empty"
        );
    }

    /// Rows as a source reads them: keys and event times may be null.
    fn source_rows(
        ids: &[Option<i64>],
        ts: &[Option<i64>],
        created: &[Option<i64>],
        rates: &[Option<f32>],
        seen: Vec<Option<Vec<Option<i64>>>>,
    ) -> RecordBatch {
        use arrow::array::{ListBuilder, TimestampMicrosecondBuilder};
        let timestamp = DataType::Timestamp(TimeUnit::Microsecond, None);
        let mut lists = ListBuilder::new(TimestampMicrosecondBuilder::new());
        for list in seen {
            lists.append_option(list);
        }
        let lists = lists.finish();
        let schema = Schema::new(vec![
            Field::new("driver_id", DataType::Int64, true),
            Field::new("ts", timestamp.clone(), true),
            Field::new("created", timestamp, true),
            Field::new("rate", DataType::Float32, true),
            Field::new("seen", lists.data_type().clone(), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(TimestampMicrosecondArray::from(ts.to_vec())),
                Arc::new(TimestampMicrosecondArray::from(created.to_vec())),
                Arc::new(Float32Array::from(rates.to_vec())),
                Arc::new(lists),
            ],
        )
        .expect("batch")
    }

    #[test]
    fn built_in_checks_drop_and_count_rows_without_keys_or_times_in_range() {
        use crate::builtin::{NULL_EVENT_TIMESTAMP, NULL_JOIN_KEY, TIMESTAMP_OUT_OF_RANGE};
        use quiver_core::ranges::MAX_TIMESTAMP_US;
        let mut spec = view(
            vec![("rate", FeatureRule::NotNull, CheckPolicy::Drop)],
            vec![],
        );
        spec.features.retain(|f| f.name == "rate");
        spec.features.push(FeatureSpec {
            name: "seen".into(),
            dtype: ValueType::List(ScalarType::Timestamp),
            description: None,
            checks: Vec::new(),
        });
        let year_1 = -62_135_596_800_000_000;
        let rows = source_rows(
            &[
                Some(1),
                None,
                Some(3),
                None,
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                Some(8),
            ],
            &[
                Some(10),
                Some(10),
                None,
                None,
                Some(year_1),
                Some(10),
                Some(10),
                Some(10),
                Some(MAX_TIMESTAMP_US),
            ],
            &[
                None,
                None,
                None,
                None,
                None,
                Some(MAX_TIMESTAMP_US + 1),
                None,
                None,
                Some(0),
            ],
            &[
                Some(0.5),
                Some(0.5),
                Some(0.5),
                Some(0.5),
                Some(0.5),
                Some(0.5),
                None,
                Some(0.5),
                Some(0.5),
            ],
            vec![
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                Some(vec![Some(0), None, Some(year_1)]),
                Some(vec![Some(-MAX_TIMESTAMP_US), None]),
            ],
        );
        let judged = checks(&spec);
        for fail_drops in [false, true] {
            let mut tally = CheckTally::default();
            let checked = if fail_drops {
                judged.check_each(&rows, &mut tally)
            } else {
                judged.check(&rows, &mut tally)
            }
            .expect("built-in checks drop, never fail");
            let dropped: Vec<(usize, &str)> = checked
                .dropped
                .iter()
                .map(|(row, check)| (*row, check.as_str()))
                .collect();
            assert_eq!(
                dropped,
                vec![
                    (1, NULL_JOIN_KEY),
                    (2, NULL_EVENT_TIMESTAMP),
                    (3, NULL_JOIN_KEY),
                    (4, TIMESTAMP_OUT_OF_RANGE),
                    (5, TIMESTAMP_OUT_OF_RANGE),
                    (6, "rate:not_null"),
                    (7, TIMESTAMP_OUT_OF_RANGE),
                ]
            );
            let ids: Vec<Option<i64>> = checked
                .batch
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .iter()
                .collect();
            assert_eq!(ids, vec![Some(1), Some(8)], "the range's edges are kept");
            let counts: Vec<(String, CheckPolicy, u64)> = tally
                .counts()
                .into_iter()
                .map(|c| (c.check, c.policy, c.violations))
                .collect();
            assert_eq!(
                counts,
                vec![
                    (NULL_EVENT_TIMESTAMP.into(), CheckPolicy::Drop, 1),
                    (NULL_JOIN_KEY.into(), CheckPolicy::Drop, 2),
                    ("rate:not_null".into(), CheckPolicy::Drop, 1),
                    (TIMESTAMP_OUT_OF_RANGE.into(), CheckPolicy::Drop, 3),
                ]
            );
            assert_eq!(
                tally.rows(),
                2,
                "only kept rows count for the checks on all rows"
            );
        }
        // A view without declared checks still has the built-in ones.
        let plain = view(vec![], vec![]);
        let plain = checks(&plain);
        assert!(plain.has_no_declared_checks());
        let mut tally = CheckTally::default();
        let late = source_rows(
            &[Some(1)],
            &[Some(MAX_TIMESTAMP_US + 1)],
            &[None],
            &[None],
            vec![None],
        );
        let checked = plain.check(&late, &mut tally).expect("checked");
        assert_eq!(checked.batch.num_rows(), 0);
        assert_eq!(tally.counts().len(), 1);
    }
}
