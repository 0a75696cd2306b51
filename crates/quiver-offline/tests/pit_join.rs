//! The point-in-time join against a brute-force reference (a plain loop over
//! rows), on random small datasets full of edge cases: ties on event and on
//! created time, rows exactly at `t` and at `t - ttl`, keys with no history,
//! entity rows before any data, duplicate entity rows, null features, several
//! views with different keys and TTLs, and the as-of-known-time mode.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use proptest::prelude::*;
use quiver_core::{
    EntitySpec, FeatureSpec, FeatureViewSpec, JoinKey, RepoSpec, SourceKind, SourceSpec, ValueType,
};
use quiver_offline::pit::{
    EntityFrame, FeatureSelection, HistoricalRequest, get_historical_features,
};
use quiver_offline::{
    EngineConfig, OfflineStore, TableRows, TimeWindow, ViewSchema, session, slices,
};

const SECOND: i64 = 1_000_000;

/// One stored row of a view: keys are (driver, customer) as the view uses them.
#[derive(Debug, Clone)]
struct Row {
    driver: i64,
    customer: String,
    event: i64,
    created: Option<i64>,
    value: Option<f64>,
}

#[derive(Debug, Clone)]
struct EntityRow {
    driver: i64,
    customer: String,
    t: i64,
}

/// Which keys a view is joined on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Keys {
    Driver,
    Customer,
    Both,
}

#[derive(Debug, Clone)]
struct ViewCase {
    name: &'static str,
    keys: Keys,
    ttl: Option<i64>,
    rows: Vec<Row>,
}

fn spec(views: &[ViewCase]) -> RepoSpec {
    let entity = |name: &str, key: &str, dtype: &str| EntitySpec {
        name: name.into(),
        description: None,
        join_keys: vec![JoinKey {
            name: key.into(),
            dtype: dtype.parse().unwrap(),
        }],
        tags: Default::default(),
    };
    let source = SourceSpec {
        name: "unused".into(),
        kind: SourceKind::Parquet {
            path: "unused.parquet".into(),
        },
        timestamp_field: "ts".into(),
        created_timestamp_field: Some("created".into()),
        field_mapping: Default::default(),
        description: None,
        tags: Default::default(),
    };
    RepoSpec {
        project: "pit".into(),
        entities: vec![
            entity("driver", "driver_id", "int64"),
            entity("customer", "customer_id", "string"),
        ],
        sources: vec![source],
        feature_views: views
            .iter()
            .map(|v| FeatureViewSpec {
                name: v.name.into(),
                entities: match v.keys {
                    Keys::Driver => vec!["driver".into()],
                    Keys::Customer => vec!["customer".into()],
                    Keys::Both => vec!["driver".into(), "customer".into()],
                },
                source: "unused".into(),
                stream_source: None,
                ttl: v.ttl.map(|us| Duration::from_micros(us as u64)),
                online: true,
                features: vec![FeatureSpec {
                    name: "value".into(),
                    dtype: ValueType::Scalar(quiver_core::ScalarType::Float64),
                    description: None,
                    checks: Vec::new(),
                }],
                description: None,
                checks: Vec::new(),
                drift: None,
                tags: Default::default(),
            })
            .collect(),
        feature_services: vec![],
    }
}

/// The view's rows in its canonical layout.
fn canonical(view: &ViewSchema, case: &ViewCase) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = Vec::new();
    if case.keys != Keys::Customer {
        columns.push(Arc::new(Int64Array::from(
            case.rows.iter().map(|r| r.driver).collect::<Vec<_>>(),
        )));
    }
    if case.keys != Keys::Driver {
        columns.push(Arc::new(StringArray::from(
            case.rows
                .iter()
                .map(|r| r.customer.clone())
                .collect::<Vec<_>>(),
        )));
    }
    columns.push(Arc::new(
        TimestampMicrosecondArray::from(case.rows.iter().map(|r| r.event).collect::<Vec<_>>())
            .with_timezone("UTC"),
    ));
    columns.push(Arc::new(
        TimestampMicrosecondArray::from(case.rows.iter().map(|r| r.created).collect::<Vec<_>>())
            .with_timezone("UTC"),
    ));
    columns.push(Arc::new(Float64Array::from(
        case.rows.iter().map(|r| r.value).collect::<Vec<_>>(),
    )));
    RecordBatch::try_new(view.schema.clone(), columns).unwrap()
}

fn entity_frame(rows: &[EntityRow]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Utf8, false),
        Field::new(
            "event_timestamp",
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("row_tag", DataType::Int64, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.driver).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.customer.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(
                TimestampMicrosecondArray::from(rows.iter().map(|r| r.t).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from((0..rows.len() as i64).collect::<Vec<_>>())),
        ],
    )
    .unwrap()
}

/// The reference: every acceptable answer (ties beyond created time may pick any row).
fn reference(case: &ViewCase, e: &EntityRow, as_of: bool) -> Vec<Option<f64>> {
    let matches = |r: &Row| match case.keys {
        Keys::Driver => r.driver == e.driver,
        Keys::Customer => r.customer == e.customer,
        Keys::Both => r.driver == e.driver && r.customer == e.customer,
    };
    let candidates: Vec<&Row> = case
        .rows
        .iter()
        .filter(|r| matches(r) && r.event <= e.t && case.ttl.is_none_or(|ttl| e.t - ttl <= r.event))
        .filter(|r| !as_of || r.created.unwrap_or(r.event) <= e.t)
        .collect();
    let Some(best) = candidates.iter().map(|r| (r.event, r.created)).max() else {
        return vec![None];
    };
    candidates
        .iter()
        .filter(|r| (r.event, r.created) == best)
        .map(|r| r.value)
        .collect()
}

async fn run(
    cases: &[ViewCase],
    entities: &[EntityRow],
    full_names: bool,
    as_of: bool,
    presorted: bool,
    partitions: usize,
) -> RecordBatch {
    let dir = tempfile::tempdir().unwrap();
    let repo = spec(cases);
    let store = OfflineStore::new(dir.path().join("offline"));
    let ctx = session(
        &EngineConfig {
            memory_limit: 64 << 20,
            batch_size: 7,
            target_partitions: partitions,
        },
        dir.path(),
    )
    .unwrap();
    for case in cases {
        let view = ViewSchema::new(&repo, case.name).unwrap();
        let mut batch = canonical(&view, case);
        if presorted {
            // Rows in storage order: the store marks the files sorted and joins merge them.
            let columns: Vec<arrow::compute::SortColumn> = (0..view.keys.len() + 2)
                .map(|i| arrow::compute::SortColumn {
                    values: batch.column(i).clone(),
                    options: None,
                })
                .collect();
            let order = arrow::compute::lexsort_to_indices(&columns, None).unwrap();
            batch = arrow::compute::take_record_batch(&batch, &order).unwrap();
        }
        // Split the rows over two windows, so the join reads several files.
        for window in [
            TimeWindow {
                start_us: -1_000 * SECOND,
                end_us: 10 * SECOND,
            },
            TimeWindow {
                start_us: 10 * SECOND,
                end_us: 1_000 * SECOND,
            },
        ] {
            let part = arrow::compute::filter_record_batch(
                &batch,
                &batch
                    .column(view.keys.len())
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .iter()
                    .map(|t| t.map(|t| window.contains(t)))
                    .collect(),
            )
            .unwrap();
            let stream = RecordBatchStreamAdapter::new(
                view.schema.clone(),
                futures::stream::iter(vec![Ok(part)]),
            );
            store
                .write_window(
                    &view,
                    Box::pin(stream),
                    window,
                    |_| {},
                    &mut quiver_offline::StoreEverything,
                )
                .await
                .unwrap();
        }
    }
    let frame = EntityFrame::new(entity_frame(entities), "event_timestamp", 1_000_000).unwrap();
    let request = HistoricalRequest {
        features: FeatureSelection::Features(
            cases.iter().map(|c| format!("{}:value", c.name)).collect(),
        ),
        full_feature_names: full_names,
        as_of_known_time: as_of,
    };
    let rows = get_historical_features(&ctx, &store, &repo, &frame, &request)
        .await
        .unwrap();
    // Gathered in uneven slices, as a writer asks for them, then put end to end.
    let slices: Vec<RecordBatch> = slices(rows.num_rows(), 7)
        .map(|(start, len)| rows.rows(start, len).unwrap())
        .collect();
    arrow::compute::concat_batches(&rows.schema(), &slices).unwrap()
}

fn check(cases: &[ViewCase], entities: &[EntityRow], as_of: bool, presorted: bool) {
    check_on(cases, entities, as_of, presorted, 2);
}

/// The key of `row` as view `keys` joins on it.
fn view_key(keys: Keys, driver: i64, customer: &str) -> (Option<i64>, Option<String>) {
    (
        (keys != Keys::Customer).then_some(driver),
        (keys != Keys::Driver).then(|| customer.to_string()),
    )
}

fn check_on(
    cases: &[ViewCase],
    entities: &[EntityRow],
    as_of: bool,
    presorted: bool,
    partitions: usize,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let out = runtime.block_on(run(cases, entities, true, as_of, presorted, partitions));
    assert_eq!(
        out.num_rows(),
        entities.len(),
        "every entity row comes back exactly once"
    );
    let tags = out
        .column_by_name("row_tag")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    assert!(
        tags.values()
            .iter()
            .enumerate()
            .all(|(i, t)| *t == i as i64),
        "rows keep the input order"
    );
    for case in cases {
        let column = out
            .column_by_name(&format!("{}__value", case.name))
            .unwrap();
        let values = column.as_primitive::<arrow::datatypes::Float64Type>();
        // The reference reads only the rows of the entity's key.
        let mut by_key: HashMap<_, ViewCase> = HashMap::new();
        for r in &case.rows {
            by_key
                .entry(view_key(case.keys, r.driver, &r.customer))
                .or_insert_with(|| ViewCase {
                    rows: Vec::new(),
                    ..case.clone()
                })
                .rows
                .push(r.clone());
        }
        let empty = ViewCase {
            rows: Vec::new(),
            ..case.clone()
        };
        for (i, e) in entities.iter().enumerate() {
            let got = (!values.is_null(i)).then(|| values.value(i));
            let same_key = by_key
                .get(&view_key(case.keys, e.driver, &e.customer))
                .unwrap_or(&empty);
            let allowed = reference(same_key, e, as_of);
            assert!(
                allowed.contains(&got),
                "view {} entity row {i} {e:?}: got {got:?}, reference allows {allowed:?}\nrows: {:#?}",
                case.name,
                case.rows
            );
        }
    }
}

fn rows_strategy(keys: Keys) -> impl Strategy<Value = Vec<Row>> {
    let row = (
        1i64..4,
        0usize..3,
        0i64..20,
        proptest::option::weighted(0.8, 0i64..4),
        proptest::option::weighted(0.85, -100i64..100),
    );
    proptest::collection::vec(row, 0..30).prop_map(move |rows| {
        rows.into_iter()
            .map(|(driver, customer, event, created_delay, value)| Row {
                driver: if keys == Keys::Customer { 0 } else { driver },
                customer: if keys == Keys::Driver {
                    String::new()
                } else {
                    format!("C{customer}")
                },
                event: event * SECOND,
                // Created times tie often and can even precede the event time.
                created: created_delay.map(|d| (event + d - 1) * SECOND),
                value: value.map(|v| v as f64),
            })
            .collect()
    })
}

fn entities_strategy() -> impl Strategy<Value = Vec<EntityRow>> {
    let row = (0i64..5, 0usize..4, -3i64..25);
    proptest::collection::vec(row, 1..25).prop_map(|rows| {
        let mut out: Vec<EntityRow> = rows
            .into_iter()
            .map(|(driver, customer, t)| EntityRow {
                driver,
                customer: format!("C{customer}"),
                t: t * SECOND,
            })
            .collect();
        // Duplicate entity rows must come back duplicated.
        out.push(out[0].clone());
        out
    })
}

fn ttl_strategy() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(1i64..8).prop_map(|t| t.map(|t| t * SECOND))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_reference(
        driver_rows in rows_strategy(Keys::Driver),
        customer_rows in rows_strategy(Keys::Customer),
        both_rows in rows_strategy(Keys::Both),
        ttl_a in ttl_strategy(),
        ttl_b in ttl_strategy(),
        entities in entities_strategy(),
        as_of in any::<bool>(),
        presorted in any::<bool>(),
    ) {
        let cases = [
            ViewCase { name: "by_driver", keys: Keys::Driver, ttl: ttl_a, rows: driver_rows },
            ViewCase { name: "by_customer", keys: Keys::Customer, ttl: ttl_b, rows: customer_rows },
            ViewCase { name: "by_both", keys: Keys::Both, ttl: None, rows: both_rows },
        ];
        check(&cases, &entities, as_of, presorted);
    }
}

fn row(driver: i64, event: i64, created: Option<i64>, value: f64) -> Row {
    Row {
        driver,
        customer: String::new(),
        event: event * SECOND,
        created: created.map(|c| c * SECOND),
        value: Some(value),
    }
}

fn at(driver: i64, t: i64) -> EntityRow {
    EntityRow {
        driver,
        customer: "C0".into(),
        t: t * SECOND,
    }
}

#[test]
fn the_design_briefs_edge_cases() {
    let case = ViewCase {
        name: "v",
        keys: Keys::Driver,
        ttl: Some(5 * SECOND),
        rows: vec![
            row(1, 10, Some(10), 1.0),
            row(1, 10, Some(12), 2.0), // same event time, created later: wins the tie
            row(1, 20, Some(20), 3.0),
            Row {
                value: None,
                ..row(1, 30, Some(30), 0.0)
            }, // a null stays null
            row(2, 5, Some(5), 9.0),
        ],
    };
    let entities = vec![
        at(1, 9),  // before any data
        at(1, 10), // exactly at the event time
        at(1, 15), // exactly at t - ttl = 10
        at(1, 16), // one second past the TTL
        at(1, 20),
        at(1, 31), // the newest row is null: no fallback to 3.0
        at(3, 20), // no history
        at(1, 10), // a duplicate
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let out = runtime.block_on(run(
        std::slice::from_ref(&case),
        &entities,
        false,
        false,
        true,
        2,
    ));
    let values = out
        .column_by_name("value")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    let got: Vec<Option<f64>> = (0..values.len())
        .map(|i| (!values.is_null(i)).then(|| values.value(i)))
        .collect();
    assert_eq!(
        got,
        vec![
            None,
            Some(2.0),
            Some(2.0),
            None,
            Some(3.0),
            None,
            None,
            Some(2.0)
        ]
    );

    // As of known time: at t=11 the correction created at 12 is not known yet.
    let out = runtime.block_on(run(
        std::slice::from_ref(&case),
        &[at(1, 11), at(1, 12)],
        false,
        true,
        false,
        2,
    ));
    let values = out
        .column_by_name("value")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    assert_eq!((values.value(0), values.value(1)), (1.0, 2.0));
    check(std::slice::from_ref(&case), &entities, true, false);
    check(std::slice::from_ref(&case), &entities, false, true);
}

/// A frame large enough to be split into key ranges that run side by side:
/// every answer still matches the reference, in the frame's order.
#[test]
fn frames_split_into_key_ranges_match_the_reference() {
    // A fixed pseudo-random sequence (an LCG), so a failure reproduces.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |below: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % below
    };
    let mut rows = |keys: Keys, count: usize| -> Vec<Row> {
        (0..count)
            .map(|_| Row {
                driver: next(600) as i64,
                customer: format!("C{}", next(200)),
                event: next(100) as i64 * SECOND,
                created: (next(10) != 0).then(|| next(100) as i64 * SECOND),
                value: (next(20) != 0).then(|| next(1000) as f64),
            })
            .map(|r| Row {
                customer: if keys == Keys::Driver {
                    String::new()
                } else {
                    r.customer
                },
                ..r
            })
            .collect()
    };
    let cases = [
        ViewCase {
            name: "by_driver",
            keys: Keys::Driver,
            ttl: Some(30 * SECOND),
            rows: rows(Keys::Driver, 3000),
        },
        ViewCase {
            name: "by_customer",
            keys: Keys::Customer,
            ttl: None,
            rows: rows(Keys::Customer, 2000),
        },
        ViewCase {
            name: "by_both",
            keys: Keys::Both,
            ttl: Some(50 * SECOND),
            rows: rows(Keys::Both, 5000),
        },
    ];
    let entities: Vec<EntityRow> = (0..70_000)
        .map(|_| EntityRow {
            driver: next(650) as i64,
            customer: format!("C{}", next(210)),
            t: next(110) as i64 * SECOND,
        })
        .collect();
    check_on(&cases, &entities, false, true, 4);
    check_on(&cases, &entities, true, false, 3);
}
