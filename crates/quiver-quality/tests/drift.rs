//! Drift detection on summaries of generated data.

mod common;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, StringArray,
};
use arrow::datatypes::{DataType, Int32Type};
use common::normals;
use quiver_quality::{
    DriftError, DriftMetric, DriftThresholds, FeatureStats, Side, StatsSummary, ValueKind,
    detect_drift,
};
use rand::RngExt;

fn summarize(data_type: &DataType, batches: Vec<ArrayRef>) -> StatsSummary {
    let mut stats = FeatureStats::new(data_type).expect("supported type");
    for batch in batches {
        stats.observe(batch.as_ref()).expect("same kind");
    }
    stats.finish()
}

fn numeric(values: Vec<f64>) -> StatsSummary {
    let batches = values
        .chunks(10_000)
        .map(|c| Arc::new(Float64Array::from(c.to_vec())) as ArrayRef)
        .collect();
    summarize(&DataType::Float64, batches)
}

/// `n` categories drawn with the given weights, seeded.
fn categorical(seed: u64, n: usize, weights: &[(&str, u32)]) -> StatsSummary {
    let total: u32 = weights.iter().map(|w| w.1).sum();
    let mut rng = common::rng(seed);
    let values: Vec<&str> = (0..n)
        .map(|_| {
            let mut pick = rng.random_range(0..total);
            weights
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .map_or("", |(v, _)| v)
        })
        .collect();
    summarize(&DataType::Utf8, vec![Arc::new(StringArray::from(values))])
}

const MIX: [(&str, u32); 4] = [("card", 50), ("cash", 30), ("wallet", 15), ("voucher", 5)];
const NEW_MIX: [(&str, u32); 4] = [("card", 40), ("cash", 30), ("wallet", 25), ("voucher", 5)];

#[test]
fn two_samples_of_one_distribution_do_not_drift() {
    let baseline = numeric(normals(1, 100_000, 20.0, 4.0));
    let current = numeric(normals(2, 60_000, 20.0, 4.0));
    let verdict =
        detect_drift("fare", &baseline, &current, &DriftThresholds::default()).expect("comparable");
    assert_eq!(verdict.feature, "fare");
    assert_eq!(verdict.kind, ValueKind::Numeric);
    assert!(!verdict.drifted, "{verdict:#?}");
    let psi = verdict.metric(DriftMetric::Psi).expect("psi");
    let ks = verdict.metric(DriftMetric::Ks).expect("ks");
    assert!(psi.value < 0.05, "psi {}", psi.value);
    assert!(ks.value < 0.05, "ks {}", ks.value);
    assert!(verdict.metric(DriftMetric::ChiSquare).is_none());
}

#[test]
fn a_mean_shift_is_flagged_by_psi_and_ks() {
    let baseline = numeric(normals(1, 100_000, 20.0, 4.0));
    // One standard deviation up.
    let current = numeric(normals(3, 60_000, 24.0, 4.0));
    let verdict =
        detect_drift("fare", &baseline, &current, &DriftThresholds::default()).expect("comparable");
    assert!(verdict.drifted);
    let psi = verdict.metric(DriftMetric::Psi).expect("psi");
    let ks = verdict.metric(DriftMetric::Ks).expect("ks");
    assert!(psi.drifted && psi.value > 0.2, "psi {}", psi.value);
    // The exact KS distance of N(0,1) vs N(1,1) is 2Φ(½) − 1 ≈ 0.383.
    assert!(
        ks.drifted && (ks.value - 0.383).abs() < 0.03,
        "ks {}",
        ks.value
    );
    assert_eq!((psi.threshold, ks.threshold), (0.2, 0.1));
}

#[test]
fn a_shift_out_of_the_baseline_range_is_caught_by_the_open_end_bins() {
    let baseline = numeric((0..10_000).map(f64::from).collect());
    let current = numeric((20_000..30_000).map(f64::from).collect());
    let verdict =
        detect_drift("x", &baseline, &current, &DriftThresholds::default()).expect("comparable");
    let ks = verdict.metric(DriftMetric::Ks).expect("ks");
    assert_eq!(ks.value, 1.0);
    let psi = verdict.metric(DriftMetric::Psi).expect("psi");
    assert!(
        psi.value.is_finite() && psi.value > 2.0,
        "psi {}",
        psi.value
    );
}

#[test]
fn thresholds_are_honoured() {
    let baseline = numeric(normals(1, 50_000, 0.0, 1.0));
    let current = numeric(normals(4, 50_000, 0.3, 1.0));
    let defaults =
        detect_drift("x", &baseline, &current, &DriftThresholds::default()).expect("comparable");
    let psi = defaults.metric(DriftMetric::Psi).expect("psi").value;
    let ks = defaults.metric(DriftMetric::Ks).expect("ks").value;

    // Just above both values: nothing drifts.
    let lenient = DriftThresholds {
        psi: psi + 0.01,
        ks: ks + 0.01,
        ..DriftThresholds::default()
    };
    let verdict = detect_drift("x", &baseline, &current, &lenient).expect("comparable");
    assert!(!verdict.drifted, "{verdict:#?}");
    assert_eq!(
        verdict.metric(DriftMetric::Psi).expect("psi").threshold,
        psi + 0.01
    );

    // Just below PSI only: PSI drifts, KS does not.
    let strict_psi = DriftThresholds {
        psi: psi - 0.01,
        ks: ks + 0.01,
        ..DriftThresholds::default()
    };
    let verdict = detect_drift("x", &baseline, &current, &strict_psi).expect("comparable");
    assert!(verdict.drifted);
    assert!(verdict.metric(DriftMetric::Psi).expect("psi").drifted);
    assert!(!verdict.metric(DriftMetric::Ks).expect("ks").drifted);

    // The chi-square p threshold moves a categorical verdict the same way.
    let b = categorical(1, 20_000, &MIX);
    let c = categorical(2, 20_000, &NEW_MIX);
    let p = detect_drift("pay", &b, &c, &DriftThresholds::default())
        .expect("comparable")
        .metric(DriftMetric::ChiSquare)
        .expect("chi-square")
        .value;
    let never = DriftThresholds {
        chi_square_p: 0.0,
        psi: 10.0,
        ..DriftThresholds::default()
    };
    let verdict = detect_drift("pay", &b, &c, &never).expect("comparable");
    assert!(!verdict.drifted, "p = {p}: {verdict:#?}");
}

#[test]
fn a_changed_category_mix_is_flagged_by_chi_square() {
    let baseline = categorical(1, 20_000, &MIX);
    let same = categorical(2, 20_000, &MIX);
    let changed = categorical(3, 20_000, &NEW_MIX);
    let thresholds = DriftThresholds::default();

    let verdict = detect_drift("payment", &baseline, &same, &thresholds).expect("comparable");
    assert!(!verdict.drifted, "{verdict:#?}");
    let chi = verdict.metric(DriftMetric::ChiSquare).expect("chi-square");
    let test = chi.chi_square.expect("the test");
    assert_eq!(test.degrees_of_freedom, 3);
    assert_eq!(chi.value, test.p_value);
    assert!(chi.value > 0.01);

    let verdict = detect_drift("payment", &baseline, &changed, &thresholds).expect("comparable");
    assert!(verdict.drifted);
    let chi = verdict.metric(DriftMetric::ChiSquare).expect("chi-square");
    assert!(chi.drifted && chi.value < 1e-6, "p = {}", chi.value);
    assert!(verdict.metric(DriftMetric::Psi).is_some());
    assert!(verdict.metric(DriftMetric::Ks).is_none());
}

#[test]
fn a_new_category_counts_as_drift() {
    let baseline = categorical(1, 10_000, &MIX[..3]);
    let current = categorical(2, 10_000, &[("card", 40), ("cash", 30), ("crypto", 30)]);
    let verdict =
        detect_drift("payment", &baseline, &current, &DriftThresholds::default()).expect("ok");
    assert!(verdict.metric(DriftMetric::ChiSquare).expect("chi").drifted);
    assert!(verdict.metric(DriftMetric::Psi).expect("psi").drifted);
}

#[test]
fn boolean_features_are_compared_as_categories() {
    let flags = |seed: u64, p: f64| -> StatsSummary {
        let mut rng = common::rng(seed);
        let values: Vec<bool> = (0..20_000).map(|_| rng.random_bool(p)).collect();
        summarize(
            &DataType::Boolean,
            vec![Arc::new(BooleanArray::from(values))],
        )
    };
    let thresholds = DriftThresholds::default();
    let steady = detect_drift("is_fraud", &flags(1, 0.1), &flags(2, 0.1), &thresholds).expect("ok");
    assert!(!steady.drifted, "{steady:#?}");
    let shifted =
        detect_drift("is_fraud", &flags(1, 0.1), &flags(3, 0.2), &thresholds).expect("ok");
    assert!(shifted.metric(DriftMetric::ChiSquare).expect("chi").drifted);
}

#[test]
fn drift_works_on_summaries_read_back_from_json() {
    let round_trip = |s: &StatsSummary| -> StatsSummary {
        serde_json::from_str(&serde_json::to_string(s).expect("serialize")).expect("deserialize")
    };
    let baseline = numeric(normals(1, 20_000, 0.0, 1.0));
    let current = numeric(normals(2, 20_000, 1.0, 1.0));
    let thresholds = DriftThresholds::default();
    let direct = detect_drift("x", &baseline, &current, &thresholds).expect("ok");
    let stored = detect_drift(
        "x",
        &round_trip(&baseline),
        &round_trip(&current),
        &thresholds,
    )
    .expect("ok");
    assert_eq!(direct, stored);
    let json = serde_json::to_value(&direct).expect("serialize");
    assert_eq!(json["metrics"][0]["metric"], "psi");
    assert_eq!(json["drifted"], true);
}

#[test]
fn incomparable_summaries_are_errors_not_verdicts() {
    let thresholds = DriftThresholds::default();
    let numbers = numeric(vec![1.0, 2.0, 3.0]);
    let words = categorical(1, 100, &MIX);
    assert_eq!(
        detect_drift("x", &numbers, &words, &thresholds),
        Err(DriftError::KindMismatch {
            baseline: ValueKind::Numeric,
            current: ValueKind::String
        })
    );

    let all_null = summarize(
        &DataType::Int64,
        vec![Arc::new(Int64Array::from(vec![None, None]))],
    );
    let ints = summarize(
        &DataType::Int64,
        vec![Arc::new(Int64Array::from(vec![1, 2]))],
    );
    assert_eq!(
        detect_drift("x", &ints, &all_null, &thresholds),
        Err(DriftError::NoData(Side::Current))
    );

    let mut no_sketch = ints.clone();
    no_sketch.sketch = None;
    assert!(matches!(
        detect_drift("x", &no_sketch, &ints, &thresholds),
        Err(DriftError::MissingState {
            side: Side::Baseline,
            ..
        })
    ));

    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
    let data_type = list.data_type().clone();
    let lists = summarize(&data_type, vec![Arc::new(list)]);
    assert_eq!(
        detect_drift("x", &lists, &lists, &thresholds),
        Err(DriftError::Unsupported(ValueKind::List))
    );

    let bad = DriftThresholds {
        ks: f64::NAN,
        ..thresholds
    };
    assert!(matches!(
        detect_drift("x", &ints, &ints, &bad),
        Err(DriftError::InvalidThreshold { name: "ks", .. })
    ));
}
