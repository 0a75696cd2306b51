//! The statistics accumulator against values computed directly on the data.

mod common;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int32Array,
    Int64Array, LargeStringArray, ListArray, StringArray, StringViewArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Int8Type, Int32Type, TimeUnit};
use common::{close, mean_stddev, normals, rank_within};
use quiver_quality::stats::{HISTOGRAM_BINS, HLL_RELATIVE_STANDARD_ERROR, TOP_K};
use quiver_quality::{FeatureStats, Quantiles, StatsError, StatsSummary, ValueKind};
use rand::RngExt;

fn observe_all(data_type: &DataType, batches: &[ArrayRef]) -> FeatureStats {
    let mut stats = FeatureStats::new(data_type).expect("supported type");
    for batch in batches {
        stats.observe(batch.as_ref()).expect("same kind");
    }
    stats
}

fn float_batches(values: &[Option<f64>], batch: usize) -> Vec<ArrayRef> {
    values
        .chunks(batch)
        .map(|chunk| Arc::new(Float64Array::from(chunk.to_vec())) as ArrayRef)
        .collect()
}

fn assert_quantiles_within_rank_error(summary: &StatsSummary, sorted: &[f64]) {
    let sketch = summary
        .sketch
        .as_ref()
        .expect("numeric summaries keep the sketch");
    let error = sketch.rank_error();
    let quantiles = summary.quantiles.expect("non-empty");
    for (rank, estimate) in Quantiles::RANKS.iter().zip(quantiles.values()) {
        assert!(
            rank_within(sorted, *rank, estimate, error),
            "p{rank}: {estimate} is not within rank error {error}"
        );
    }
}

#[test]
fn numeric_summary_matches_direct_computation() {
    // 200k draws of N(50, 10²) with nulls and non-finite values mixed in.
    let draws = normals(11, 200_000, 50.0, 10.0);
    let mut rng = common::rng(12);
    let column: Vec<Option<f64>> = draws
        .iter()
        .map(|&v| match rng.random_range(0..100) {
            0..=4 => None,
            5 => Some(f64::NAN),
            6 => Some(f64::INFINITY),
            _ => Some(v),
        })
        .collect();
    let summary = observe_all(&DataType::Float64, &float_batches(&column, 8192)).finish();

    let mut finite: Vec<f64> = column
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let nulls = column.iter().filter(|v| v.is_none()).count() as u64;
    let non_finite = column.iter().flatten().filter(|v| !v.is_finite()).count() as u64;
    finite.sort_by(f64::total_cmp);
    let (mean, stddev) = mean_stddev(&finite);

    assert_eq!(summary.kind, ValueKind::Numeric);
    assert_eq!(summary.count, 200_000);
    assert_eq!(summary.nulls, nulls);
    assert_eq!(summary.non_finite, non_finite);
    assert_eq!(summary.valid(), finite.len() as u64);
    assert_eq!(summary.min, finite.first().copied());
    assert_eq!(summary.max, finite.last().copied());
    assert!(close(summary.mean.expect("mean"), mean, 1e-12));
    assert!(close(summary.stddev.expect("stddev"), stddev, 1e-9));
    assert_quantiles_within_rank_error(&summary, &finite);

    let histogram = summary.histogram.as_ref().expect("histogram");
    assert_eq!(histogram.counts.len(), HISTOGRAM_BINS);
    assert_eq!(histogram.edges.first().copied(), summary.min);
    assert_eq!(histogram.edges.last().copied(), summary.max);
    assert_eq!(histogram.counts.iter().sum::<u64>(), finite.len() as u64);
    assert!(summary.categories.is_none());
}

#[test]
fn histogram_bins_are_within_twice_the_rank_error() {
    let mut values = normals(3, 100_000, 0.0, 1.0);
    let summary = observe_all(
        &DataType::Float64,
        &float_batches(&values.iter().map(|&v| Some(v)).collect::<Vec<_>>(), 10_000),
    )
    .finish();
    values.sort_by(f64::total_cmp);
    let histogram = summary.histogram.expect("histogram");
    let error = summary.sketch.expect("sketch").rank_error();
    let n = values.len() as f64;
    for (i, &count) in histogram.counts.iter().enumerate() {
        let (lo, hi) = (histogram.edges[i], histogram.edges[i + 1]);
        let exact = values
            .iter()
            .filter(|&&v| (v > lo || (i == 0 && v == lo)) && v <= hi)
            .count() as f64;
        assert!(
            (count as f64 - exact).abs() / n <= 2.0 * error,
            "bin {i}: {count} vs {exact}"
        );
    }
}

#[test]
fn integer_batches_of_both_widths_share_one_accumulator() {
    let batches: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![Some(3), None, Some(-7)])),
        Arc::new(Int64Array::from(vec![Some(10), Some(3), None, None])),
    ];
    let summary = observe_all(&DataType::Int32, &batches).finish();
    assert_eq!((summary.count, summary.nulls), (7, 3));
    assert_eq!((summary.min, summary.max), (Some(-7.0), Some(10.0)));
    assert_eq!(summary.mean, Some(9.0 / 4.0));
    assert_eq!(summary.distinct, Some(3), "3 is one value in both widths");
    let q = summary.quantiles.expect("quantiles");
    assert_eq!((q.p01, q.p50, q.p99), (-7.0, 3.0, 10.0));
}

#[test]
fn float32_values_are_read_exactly() {
    let batch: ArrayRef = Arc::new(Float32Array::from(vec![0.5f32, 1.5, f32::NAN]));
    let summary = observe_all(&DataType::Float32, &[batch]).finish();
    assert_eq!(summary.mean, Some(1.0));
    assert_eq!(summary.non_finite, 1);
}

#[test]
fn timestamps_keep_microsecond_precision() {
    let base = 1_700_000_000_000_000i64;
    let values: Vec<i64> = (0..1000).map(|i| base + i * 1_000_000).collect();
    let batch: ArrayRef =
        Arc::new(TimestampMicrosecondArray::from(values.clone()).with_timezone("UTC"));
    let summary = observe_all(
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        &[batch],
    )
    .finish();
    assert_eq!(summary.kind, ValueKind::Timestamp);
    assert_eq!(summary.min, Some(base as f64));
    assert_eq!(summary.max, Some((base + 999_000_000) as f64));
    let as_f64: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    let (mean, stddev) = mean_stddev(&as_f64);
    assert!(close(summary.mean.expect("mean"), mean, 1e-12));
    assert!(close(summary.stddev.expect("stddev"), stddev, 1e-9));
    let distinct = summary.distinct.expect("distinct") as f64;
    assert!((distinct - 1000.0).abs() <= 3.0 * HLL_RELATIVE_STANDARD_ERROR * 1000.0);
}

#[test]
fn distinct_is_within_three_standard_errors_on_100k_values() {
    let truth = 100_000u64;
    // Every value four times, in shuffled-looking order.
    let ints: Vec<i64> = (0..4 * truth as i64)
        .map(|i| (i * 7919) % truth as i64)
        .collect();
    let strings: Vec<String> = ints.iter().map(|i| format!("user-{i}")).collect();
    let bound = 3.0 * HLL_RELATIVE_STANDARD_ERROR * truth as f64;

    let int_batches: Vec<ArrayRef> = ints
        .chunks(50_000)
        .map(|c| Arc::new(Int64Array::from(c.to_vec())) as ArrayRef)
        .collect();
    let string_batches: Vec<ArrayRef> = strings
        .chunks(50_000)
        .map(|c| Arc::new(StringArray::from(c.to_vec())) as ArrayRef)
        .collect();
    for (data_type, batches) in [
        (DataType::Int64, int_batches),
        (DataType::Utf8, string_batches),
    ] {
        let distinct = observe_all(&data_type, &batches)
            .finish()
            .distinct
            .expect("distinct");
        assert!(
            (distinct as f64 - truth as f64).abs() <= bound,
            "{data_type}: {distinct} vs {truth} (bound {bound})"
        );
    }
}

#[test]
fn strings_get_lengths_distinct_and_top_categories() {
    let batches: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![
            Some("apple"),
            None,
            Some("kiwi"),
            Some("apple"),
        ])),
        Arc::new(LargeStringArray::from(vec![
            Some("apple"),
            Some("çà"),
            None,
        ])),
        Arc::new(StringViewArray::from(vec![Some("kiwi"), Some("")])),
    ];
    let summary = observe_all(&DataType::Utf8, &batches).finish();
    assert_eq!(summary.kind, ValueKind::String);
    assert_eq!((summary.count, summary.nulls), (9, 2));
    // Lengths in characters: "" is 0, "çà" is 2 (4 bytes), "apple" is 5.
    assert_eq!((summary.min, summary.max), (Some(0.0), Some(5.0)));
    assert_eq!(summary.distinct, Some(4));
    assert_eq!((summary.mean, summary.stddev), (None, None));
    assert!(summary.quantiles.is_none() && summary.sketch.is_none());
    let categories = summary.categories.expect("categories");
    let top: Vec<(&str, u64)> = categories
        .top
        .iter()
        .map(|c| (c.value.as_str(), c.count))
        .collect();
    assert_eq!(top, [("apple", 3), ("kiwi", 2), ("", 1), ("çà", 1)]);
    assert_eq!(categories.other, 0);
}

#[test]
fn many_categories_are_capped_at_top_k_with_the_rest_in_other() {
    // Category i occurs i + 1 times, for 200 categories.
    let values: Vec<String> = (0..200)
        .flat_map(|i| std::iter::repeat_n(format!("c{i}"), i + 1))
        .collect();
    let total = values.len() as u64;
    let batch: ArrayRef = Arc::new(StringArray::from(values));
    let categories = observe_all(&DataType::Utf8, &[batch])
        .finish()
        .categories
        .expect("categories");
    assert_eq!(categories.top.len(), TOP_K);
    assert_eq!(categories.top[0].value, "c199");
    assert_eq!(categories.top[0].count, 200);
    assert_eq!(categories.max_error, 0);
    assert_eq!(categories.total(), total);
    let named: u64 = (200 - TOP_K as u64 + 1..=200).sum();
    assert_eq!(categories.other, total - named);
}

#[test]
fn dictionary_arrays_give_the_same_summary_as_plain_strings() {
    let plain = vec![Some("b"), Some("a"), None, Some("b"), Some("c"), Some("b")];
    let dictionary: DictionaryArray<Int8Type> = plain.iter().copied().collect();
    let plain_summary = observe_all(
        &DataType::Utf8,
        &[Arc::new(StringArray::from(plain)) as ArrayRef],
    )
    .finish();
    let data_type = dictionary.data_type().clone();
    let dict_summary = observe_all(&data_type, &[Arc::new(dictionary) as ArrayRef]).finish();
    assert_eq!(dict_summary, plain_summary);

    // A key pointing at a null dictionary entry is a null row.
    let keys = Int32Array::from(vec![0, 1, 1]);
    let values: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), None]));
    let dictionary = DictionaryArray::<Int32Type>::try_new(keys, values).expect("valid");
    let data_type = dictionary.data_type().clone();
    let summary = observe_all(&data_type, &[Arc::new(dictionary) as ArrayRef]).finish();
    assert_eq!((summary.count, summary.nulls), (3, 2));
    assert_eq!(summary.categories.expect("categories").total(), 1);
}

#[test]
fn booleans_get_exact_moments_and_two_categories() {
    let batch: ArrayRef = Arc::new(BooleanArray::from(vec![
        Some(true),
        Some(false),
        None,
        Some(true),
        Some(true),
    ]));
    let summary = observe_all(&DataType::Boolean, &[batch]).finish();
    assert_eq!(summary.kind, ValueKind::Boolean);
    assert_eq!((summary.count, summary.nulls), (5, 1));
    assert_eq!(summary.mean, Some(0.75));
    assert_eq!(summary.stddev, Some((0.75f64 * 0.25).sqrt()));
    assert_eq!((summary.min, summary.max), (Some(0.0), Some(1.0)));
    assert_eq!(summary.distinct, Some(2));
    let categories = summary.categories.expect("categories");
    assert_eq!(categories.count_of("true"), Some(3));
    assert_eq!(categories.count_of("false"), Some(1));
}

#[test]
fn lists_get_count_and_nulls_only() {
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1), Some(2)]),
        None,
        Some(vec![]),
    ]);
    let data_type = list.data_type().clone();
    let summary = observe_all(&data_type, &[Arc::new(list) as ArrayRef]).finish();
    assert_eq!(summary.kind, ValueKind::List);
    assert_eq!((summary.count, summary.nulls), (3, 1));
    assert_eq!(summary.min, None);
    assert_eq!(summary.distinct, None);
    assert!(summary.categories.is_none() && summary.sketch.is_none());
}

#[test]
fn an_empty_accumulator_has_counts_but_no_values() {
    let summary = FeatureStats::new(&DataType::Float64)
        .expect("supported")
        .finish();
    assert_eq!((summary.count, summary.nulls), (0, 0));
    assert_eq!(
        (summary.min, summary.mean, summary.stddev),
        (None, None, None)
    );
    assert!(summary.quantiles.is_none() && summary.histogram.is_none());
    assert_eq!(summary.distinct, Some(0));
    assert!(summary.sketch.as_ref().is_some_and(|s| s.is_empty()));
}

#[test]
fn a_batch_of_another_kind_is_refused_and_changes_nothing() {
    let mut stats = FeatureStats::new(&DataType::Int64).expect("supported");
    stats
        .observe(&Int64Array::from(vec![1, 2, 3]))
        .expect("same kind");
    let before = stats.finish();
    let err = stats
        .observe(&StringArray::from(vec!["x"]))
        .expect_err("a string batch");
    assert!(matches!(
        err,
        StatsError::TypeMismatch {
            expected: ValueKind::Numeric,
            found: DataType::Utf8
        }
    ));
    let err = stats
        .observe(&arrow::array::Int16Array::from(vec![1i16]))
        .expect_err("unsupported");
    assert!(matches!(err, StatsError::UnsupportedType(DataType::Int16)));
    assert_eq!(stats.finish(), before);
}

#[test]
fn unsupported_types_are_refused_up_front() {
    assert!(matches!(
        FeatureStats::new(&DataType::Date32),
        Err(StatsError::UnsupportedType(DataType::Date32))
    ));
}

#[test]
fn merging_different_kinds_is_refused() {
    let mut numbers = FeatureStats::new(&DataType::Int64).expect("supported");
    let times =
        FeatureStats::new(&DataType::Timestamp(TimeUnit::Microsecond, None)).expect("supported");
    assert!(matches!(
        numbers.merge(&times),
        Err(StatsError::KindMismatch {
            ours: ValueKind::Numeric,
            theirs: ValueKind::Timestamp
        })
    ));
}

#[test]
fn merge_equals_observing_both() {
    let left = normals(21, 30_000, 5.0, 2.0);
    let right = normals(22, 50_000, 7.0, 3.0);
    let batches = |values: &[f64]| -> Vec<ArrayRef> {
        float_batches(&values.iter().map(|&v| Some(v)).collect::<Vec<_>>(), 4096)
    };
    let mut merged = observe_all(&DataType::Float64, &batches(&left));
    merged
        .merge(&observe_all(&DataType::Float64, &batches(&right)))
        .expect("same kind");
    let both: Vec<f64> = left.iter().chain(&right).copied().collect();
    let whole = observe_all(&DataType::Float64, &batches(&both));
    let (m, w) = (merged.finish(), whole.finish());

    assert_eq!(
        (m.count, m.nulls, m.min, m.max),
        (w.count, w.nulls, w.min, w.max)
    );
    assert!(close(m.mean.expect("mean"), w.mean.expect("mean"), 1e-12));
    assert!(close(m.stddev.expect("sd"), w.stddev.expect("sd"), 1e-12));
    let bound = 3.0 * HLL_RELATIVE_STANDARD_ERROR * both.len() as f64;
    let (dm, dw) = (m.distinct.expect("d") as f64, w.distinct.expect("d") as f64);
    assert!((dm - dw).abs() <= bound, "{dm} vs {dw}");
    assert_eq!(
        m.histogram.as_ref().map(|h| h.counts.iter().sum::<u64>()),
        Some(80_000)
    );
    let mut sorted = both;
    sorted.sort_by(f64::total_cmp);
    assert_quantiles_within_rank_error(&m, &sorted);

    // Strings: exact category counts survive the merge.
    let words = |range: std::ops::Range<usize>| -> ArrayRef {
        Arc::new(StringArray::from(
            range.map(|i| format!("w{}", i % 37)).collect::<Vec<_>>(),
        ))
    };
    let mut merged = observe_all(&DataType::Utf8, &[words(0..500)]);
    merged
        .merge(&observe_all(&DataType::Utf8, &[words(500..1300)]))
        .expect("same kind");
    let whole = observe_all(&DataType::Utf8, &[words(0..1300)]);
    assert_eq!(merged.finish(), whole.finish());
}

#[test]
fn summary_json_has_stable_field_names_and_round_trips() {
    let batch: ArrayRef = Arc::new(Float64Array::from(normals(5, 5000, 0.0, 1.0)));
    let summary = observe_all(&DataType::Float64, &[batch]).finish();
    let json = serde_json::to_value(&summary).expect("serialize");
    let keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "kind",
            "count",
            "nulls",
            "non_finite",
            "min",
            "max",
            "mean",
            "stddev",
            "distinct",
            "quantiles",
            "histogram",
            "categories",
            "sketch"
        ]
    );
    let quantile_keys: Vec<&str> = json["quantiles"]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        quantile_keys,
        ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    );
    assert!(json["histogram"]["edges"].is_array() && json["histogram"]["counts"].is_array());
    assert!(json["sketch"]["kll"].is_string());

    // serde_json (without its `float_roundtrip` feature) may read a float back
    // one ulp off, so floats are compared closely and everything else exactly.
    let text = serde_json::to_string(&summary).expect("serialize");
    let back: StatsSummary = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(back.sketch, summary.sketch, "the sketch is hex: exact");
    let back_json = serde_json::to_value(&back).expect("serialize");
    assert_json_close(&back_json, &json);
}

fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().expect("number"), y.as_f64().expect("number"));
            assert!(close(x, y, 1e-15), "{x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).for_each(|(x, y)| assert_json_close(x, y));
        }
        (Value::Object(x), Value::Object(y)) => {
            assert!(x.keys().eq(y.keys()));
            x.values()
                .zip(y.values())
                .for_each(|(x, y)| assert_json_close(x, y));
        }
        _ => assert_eq!(a, b),
    }
}

#[test]
fn summaries_without_optional_fields_still_read() {
    let summary: StatsSummary =
        serde_json::from_str(r#"{"kind":"list","count":4,"nulls":1}"#).expect("deserialize");
    assert_eq!(summary.non_finite, 0);
    assert_eq!(summary.sketch, None);
}
