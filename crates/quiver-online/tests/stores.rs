//! The online-store contract, run against both stores (Redis and embedded).
// Tests panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{Harness, SECOND, T0, key, read_view, row, view};
use quiver_online::{EntityKey, OnlineError, ReadView, Status, Value, ViewValues, WriteReport};

/// Generates `mod redis { #[tokio::test] fn <scenario>() }` and the same for
/// `embedded`, each running the scenario function of that name.
macro_rules! for_both_stores {
    ($($name:ident),* $(,)?) => {
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let h = crate::common::Harness::redis(stringify!($name));
                    crate::$name(&h).await;
                    h.finish().await;
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let h = crate::common::Harness::embedded(stringify!($name));
                    crate::$name(&h).await;
                    h.finish().await;
                }
            )*
        }
    };
}

for_both_stores!(
    writes_then_reads_every_type,
    event_time_guard,
    concurrent_writers_keep_the_max,
    ttl_and_max_age,
    missing_and_composite_keys,
    several_views_in_one_read,
    clear_removes_only_this_project,
    rejects_bad_requests,
    empty_requests,
);

const ALL_FEATURES: [&str; 11] = [
    "f_bool",
    "f_i32",
    "f_i64",
    "f_f32",
    "f_f64",
    "f_str",
    "f_bytes",
    "f_ts",
    "f_list_i64",
    "f_list_str",
    "f_null",
];

fn full_values(i: i64) -> Vec<Value> {
    vec![
        Value::Bool(i % 2 == 0),
        Value::Int32(-(i as i32)),
        Value::Int64(i * 1_000_000_007),
        Value::Float32(1.5 + i as f32),
        Value::Float64(-0.25 * i as f64),
        Value::String(format!("driver é {i} 🚕")),
        Value::Bytes(vec![0, 255, i as u8, b'{', b'}']),
        Value::Timestamp(T0 + i),
        Value::List(vec![Value::Int64(i), Value::Null, Value::Int64(-i)]),
        Value::List(vec![
            Value::String("a".into()),
            Value::String(String::new()),
        ]),
        Value::Null,
    ]
}

async fn writes_then_reads_every_type(h: &Harness) {
    let store = h.store().await;
    let v = view("driver_stats", &ALL_FEATURES, None);
    let mut sparse = vec![Value::Null; ALL_FEATURES.len()];
    sparse[2] = Value::Int64(42);
    let rows = vec![
        row(key(1), T0 - 5 * SECOND, Some(T0), full_values(1)),
        row(key(2), T0 - 6 * SECOND, None, full_values(2)),
        row(key(3), T0 - 7 * SECOND, None, sparse.clone()),
        row(
            key(4),
            T0,
            None,
            vec![Value::List(Vec::new()); ALL_FEATURES.len()],
        ),
    ];
    let report = store.write(&v, &rows).await.unwrap();
    assert_eq!(
        report,
        WriteReport {
            written: 4,
            dropped_older: 0
        }
    );

    let keys = [key(1), key(2), key(3), key(4), key(99)];
    let got = store.read(&keys, &[read_view(&v)], T0).await.unwrap();
    assert_eq!(got.len(), 5);
    for (i, expected) in [
        (0, full_values(1)),
        (1, full_values(2)),
        (2, sparse),
        (3, vec![Value::List(Vec::new()); ALL_FEATURES.len()]),
    ] {
        assert_eq!(
            got[i][0],
            ViewValues {
                status: Status::Present,
                event_ts: Some(rows[i].event_ts),
                values: expected,
            },
            "key {i}"
        );
    }
    assert_eq!(
        got[4][0],
        ViewValues {
            status: Status::NotFound,
            event_ts: None,
            values: vec![Value::Null; ALL_FEATURES.len()],
        }
    );

    // A subset of features, in another order, with one the row never had.
    let subset = ReadView {
        view: v.name.clone(),
        features: vec!["f_str".into(), "added_later".into(), "f_bool".into()],
        ttl: None,
    };
    let got = store.read(&[key(1)], &[subset], T0).await.unwrap();
    assert_eq!(
        got[0][0].values,
        vec![
            Value::String("driver é 1 🚕".into()),
            Value::Null,
            Value::Bool(false)
        ]
    );
}

async fn event_time_guard(h: &Harness) {
    let store = h.store().await;
    let v = view("v", &["x"], None);
    let rv = [read_view(&v)];
    let k = key(7);
    let x = |n: i64| vec![Value::Int64(n)];
    let current = |store: Arc<dyn quiver_online::OnlineStore>| {
        let rv = rv.clone();
        async move {
            let got = store.read(&[key(7)], &rv, T0).await.unwrap();
            (got[0][0].event_ts, got[0][0].values[0].clone())
        }
    };
    let w = |written, dropped_older| WriteReport {
        written,
        dropped_older,
    };

    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 100, Some(5), x(1))])
            .await
            .unwrap(),
        w(1, 0)
    );
    // Older event, even with a later created: dropped.
    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 90, Some(999), x(2))])
            .await
            .unwrap(),
        w(0, 1)
    );
    assert_eq!(current(store.clone()).await, (Some(100), Value::Int64(1)));
    // Same event, earlier created or null created: dropped.
    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 100, Some(4), x(3))])
            .await
            .unwrap(),
        w(0, 1)
    );
    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 100, None, x(3))])
            .await
            .unwrap(),
        w(0, 1)
    );
    // Same event, later created: replaces.
    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 100, Some(6), x(4))])
            .await
            .unwrap(),
        w(1, 0)
    );
    assert_eq!(current(store.clone()).await, (Some(100), Value::Int64(4)));
    // Equal (event, created): a replay, stored again, harmless.
    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 100, Some(6), x(4))])
            .await
            .unwrap(),
        w(1, 0)
    );
    assert_eq!(current(store.clone()).await, (Some(100), Value::Int64(4)));
    // Newer event with a null created: replaces, and the null created is now stored.
    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 200, None, x(5))])
            .await
            .unwrap(),
        w(1, 0)
    );
    assert_eq!(current(store.clone()).await, (Some(200), Value::Int64(5)));
    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 200, None, x(6))])
            .await
            .unwrap(),
        w(1, 0)
    );
    assert_eq!(current(store.clone()).await, (Some(200), Value::Int64(6)));
    assert_eq!(
        store
            .write(&v, &[row(k.clone(), 200, Some(i64::MIN / 4096), x(7))])
            .await
            .unwrap(),
        w(1, 0)
    );
    assert_eq!(current(store.clone()).await, (Some(200), Value::Int64(7)));
    // Several rows for one key in one call compete in order.
    let batch = [
        row(k.clone(), 300, None, x(8)),
        row(k.clone(), 250, None, x(9)),
        row(k.clone(), 300, Some(1), x(10)),
        row(k.clone(), 299, Some(100), x(11)),
    ];
    assert_eq!(store.write(&v, &batch).await.unwrap(), w(2, 2));
    assert_eq!(current(store.clone()).await, (Some(300), Value::Int64(10)));
    // Negative (pre-1970) event times order correctly too.
    let k2 = key(8);
    store
        .write(&v, &[row(k2.clone(), -5 * SECOND, None, x(1))])
        .await
        .unwrap();
    assert_eq!(
        store
            .write(&v, &[row(k2.clone(), -6 * SECOND, None, x(2))])
            .await
            .unwrap(),
        w(0, 1)
    );
    let got = store.read(&[k2], &rv, T0).await.unwrap();
    assert_eq!(got[0][0].values, x(1));
}

/// A tiny deterministic generator (xorshift), so the test needs no RNG crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

async fn concurrent_writers_keep_the_max(h: &Harness) {
    const TASKS: u64 = 8;
    const BATCHES: usize = 25;
    const ROWS: usize = 40;
    const KEYS: i64 = 12;
    // Two handles on the same project (two Redis connections; two opens of the
    // same redb file), writers alternating between them.
    let store = h.store().await;
    let second = h.store_for("a").await;
    let v = Arc::new(view("race", &["value", "writer"], None));

    // The value is a function of (event, created), so equal pairs carry equal values
    // and the end state is fully determined.
    let value_of = |event: i64, created: Option<i64>| event * 1000 + created.map_or(0, |c| c + 1);
    let mut plans = Vec::new();
    for task in 0..TASKS {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (task + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        let batches: Vec<Vec<(i64, i64, Option<i64>)>> = (0..BATCHES)
            .map(|_| {
                (0..ROWS)
                    .map(|_| {
                        let k = rng.below(KEYS as u64);
                        let event = T0 + rng.below(60) * SECOND;
                        let created = if rng.below(4) == 0 {
                            None
                        } else {
                            Some(T0 + rng.below(5))
                        };
                        (k, event, created)
                    })
                    .collect()
            })
            .collect();
        plans.push(batches);
    }

    let mut expected: HashMap<i64, (i64, Option<i64>)> = HashMap::new();
    for (k, event, created) in plans.iter().flatten().flatten() {
        let best = expected.entry(*k).or_insert((*event, *created));
        if (*event, *created) > *best {
            *best = (*event, *created);
        }
    }

    let handles: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(task, batches)| {
            let store = Arc::clone(if task % 2 == 0 { &store } else { &second });
            let v = Arc::clone(&v);
            tokio::spawn(async move {
                let mut report = WriteReport::default();
                for batch in batches {
                    let rows: Vec<_> = batch
                        .into_iter()
                        .map(|(k, event, created)| {
                            row(
                                key(k),
                                event,
                                created,
                                vec![
                                    Value::Int64(value_of(event, created)),
                                    Value::Int64(task as i64),
                                ],
                            )
                        })
                        .collect();
                    report += store.write(&v, &rows).await.unwrap();
                    tokio::task::yield_now().await;
                }
                report
            })
        })
        .collect();
    let mut total = WriteReport::default();
    for handle in handles {
        total += handle.await.unwrap();
    }
    assert_eq!(
        total.written + total.dropped_older,
        TASKS * (BATCHES * ROWS) as u64
    );
    assert!(total.dropped_older > 0, "the race should drop some rows");

    let keys: Vec<EntityKey> = (0..KEYS).map(key).collect();
    let got = store
        .read(&keys, &[read_view(&v)], T0 + 3600 * SECOND)
        .await
        .unwrap();
    for (k, answer) in (0..KEYS).zip(&got) {
        let (event, created) = expected[&k];
        assert_eq!(answer[0].status, Status::Present, "key {k}");
        assert_eq!(answer[0].event_ts, Some(event), "key {k}");
        assert_eq!(
            answer[0].values[0],
            Value::Int64(value_of(event, created)),
            "key {k}: the stored row is the max (event, created)"
        );
    }
}

async fn ttl_and_max_age(h: &Harness) {
    let store = h.store().await;
    let ttl = Duration::from_secs(10);
    let short = view("short", &["x"], Some(ttl));
    let forever = view("forever", &["x"], None);
    let event = T0 - 1000 * SECOND;
    for v in [&short, &forever] {
        store
            .write(v, &[row(key(1), event, None, vec![Value::Float64(0.5)])])
            .await
            .unwrap();
    }
    let read_at = |now: i64| {
        let store = Arc::clone(&store);
        let views = [read_view(&short), read_view(&forever)];
        async move { store.read(&[key(1)], &views, now).await.unwrap().remove(0) }
    };

    let fresh = read_at(event + 5 * SECOND).await;
    assert_eq!(fresh[0].status, Status::Present);
    assert_eq!(fresh[0].values, vec![Value::Float64(0.5)]);

    // Exactly at the boundary: event_ts == now - ttl is still present.
    let boundary = read_at(event + 10 * SECOND).await;
    assert_eq!(boundary[0].status, Status::Present);
    assert_eq!(boundary[0].values, vec![Value::Float64(0.5)]);

    // One microsecond older than the TTL: outside max age, values null.
    let stale = read_at(event + 10 * SECOND + 1).await;
    assert_eq!(
        stale[0],
        ViewValues {
            status: Status::OutsideMaxAge,
            event_ts: Some(event),
            values: vec![Value::Null],
        }
    );
    // No TTL never expires.
    assert_eq!(stale[1].status, Status::Present);
    let far = read_at(event + 100 * 365 * 86_400 * SECOND).await;
    assert_eq!(far[0].status, Status::OutsideMaxAge);
    assert_eq!(far[1].status, Status::Present);
    assert_eq!(far[1].values, vec![Value::Float64(0.5)]);

    // The TTL is the reader's: the same row read with a longer TTL is present.
    let longer = ReadView {
        ttl: Some(Duration::from_secs(3600)),
        ..read_view(&short)
    };
    let got = store
        .read(&[key(1)], &[longer], event + 100 * SECOND)
        .await
        .unwrap();
    assert_eq!(got[0][0].status, Status::Present);
}

async fn missing_and_composite_keys(h: &Harness) {
    let store = h.store().await;
    let v = view("trips", &["count"], None);
    let composite = |id: i64, city: &str, reversed: bool| {
        let mut pairs = vec![
            ("driver_id".to_string(), Value::Int64(id)),
            ("city".to_string(), Value::String(city.to_string())),
        ];
        if reversed {
            pairs.reverse();
        }
        EntityKey::new(pairs).unwrap()
    };
    store
        .write(
            &v,
            &[
                row(
                    composite(1, "paris", false),
                    T0,
                    None,
                    vec![Value::Int64(10)],
                ),
                row(composite(1, "lyon", true), T0, None, vec![Value::Int64(20)]),
                row(
                    composite(2, "paris", true),
                    T0,
                    None,
                    vec![Value::Int64(30)],
                ),
            ],
        )
        .await
        .unwrap();
    let int32_key = EntityKey::new(vec![
        ("city".to_string(), Value::String("paris".into())),
        ("driver_id".to_string(), Value::Int32(2)),
    ])
    .unwrap();
    let keys = [
        composite(1, "paris", true),
        composite(1, "lyon", false),
        int32_key,
        composite(3, "paris", false),
        composite(1, "nice", false),
        key(1),
    ];
    let got = store.read(&keys, &[read_view(&v)], T0).await.unwrap();
    let answers: Vec<(Status, Value)> = got
        .iter()
        .map(|r| (r[0].status, r[0].values[0].clone()))
        .collect();
    assert_eq!(
        answers,
        vec![
            (Status::Present, Value::Int64(10)),
            (Status::Present, Value::Int64(20)),
            (Status::Present, Value::Int64(30)),
            (Status::NotFound, Value::Null),
            (Status::NotFound, Value::Null),
            (Status::NotFound, Value::Null),
        ]
    );
    // String and bytes keys, including awkward bytes.
    let odd = [
        EntityKey::single("k", Value::String("{tag}:*?[x]".into())).unwrap(),
        EntityKey::single("k", Value::Bytes(vec![0, 0xff, b'{', b'}'])).unwrap(),
        EntityKey::single("k", Value::String(String::new())).unwrap(),
    ];
    let rows: Vec<_> = odd
        .iter()
        .enumerate()
        .map(|(i, k)| row(k.clone(), T0, None, vec![Value::Int64(i as i64)]))
        .collect();
    store.write(&v, &rows).await.unwrap();
    let got = store.read(&odd, &[read_view(&v)], T0).await.unwrap();
    for (i, answer) in got.iter().enumerate() {
        assert_eq!(answer[0].values, vec![Value::Int64(i as i64)]);
    }
}

async fn several_views_in_one_read(h: &Harness) {
    let store = h.store().await;
    let a = view("a", &["p", "q"], None);
    let b = view("b", &["p"], Some(Duration::from_secs(60)));
    store
        .write(
            &a,
            &[
                row(
                    key(1),
                    T0 - SECOND,
                    None,
                    vec![Value::Int64(1), Value::Bool(true)],
                ),
                row(
                    key(2),
                    T0 - 2 * SECOND,
                    None,
                    vec![Value::Int64(2), Value::Null],
                ),
            ],
        )
        .await
        .unwrap();
    store
        .write(
            &b,
            &[row(
                key(1),
                T0 - 3 * SECOND,
                None,
                vec![Value::String("b1".into())],
            )],
        )
        .await
        .unwrap();

    let got = store
        .read(
            &[key(1), key(2), key(3)],
            &[read_view(&a), read_view(&b)],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.len() == 2));
    assert_eq!(got[0][0].values, vec![Value::Int64(1), Value::Bool(true)]);
    assert_eq!(got[0][0].event_ts, Some(T0 - SECOND));
    assert_eq!(got[0][1].values, vec![Value::String("b1".into())]);
    assert_eq!(got[0][1].event_ts, Some(T0 - 3 * SECOND));
    // Key 2 has view a (with a null inside a present row) but was never written for b.
    assert_eq!(got[1][0].status, Status::Present);
    assert_eq!(got[1][0].values, vec![Value::Int64(2), Value::Null]);
    assert_eq!(
        got[1][1],
        ViewValues {
            status: Status::NotFound,
            event_ts: None,
            values: vec![Value::Null],
        }
    );
    assert_eq!(got[2][0].status, Status::NotFound);
    assert_eq!(got[2][1].status, Status::NotFound);

    // A write to one view leaves the other view of the same entity alone.
    store
        .write(
            &a,
            &[row(
                key(1),
                T0,
                None,
                vec![Value::Int64(9), Value::Bool(false)],
            )],
        )
        .await
        .unwrap();
    let got = store
        .read(&[key(1)], &[read_view(&b), read_view(&a)], T0)
        .await
        .unwrap();
    assert_eq!(got[0][0].values, vec![Value::String("b1".into())]);
    assert_eq!(got[0][1].values, vec![Value::Int64(9), Value::Bool(false)]);
}

async fn clear_removes_only_this_project(h: &Harness) {
    let mine = h.store_for("mine").await;
    let theirs = h.store_for("theirs").await;
    let v = view("v", &["x"], None);
    let rows: Vec<_> = (0..25)
        .map(|i| row(key(i), T0, None, vec![Value::Int64(i)]))
        .collect();
    mine.write(&v, &rows).await.unwrap();
    theirs.write(&v, &rows).await.unwrap();
    let removed = mine.clear().await.unwrap();
    assert_eq!(removed, 25);
    let keys: Vec<_> = (0..25).map(key).collect();
    let got = mine.read(&keys, &[read_view(&v)], T0).await.unwrap();
    assert!(got.iter().all(|r| r[0].status == Status::NotFound));
    let got = theirs.read(&keys, &[read_view(&v)], T0).await.unwrap();
    assert!(got.iter().all(|r| r[0].status == Status::Present));
    // The cleared store keeps working.
    mine.write(&v, &rows[..1]).await.unwrap();
    let got = mine.read(&keys[..1], &[read_view(&v)], T0).await.unwrap();
    assert_eq!(got[0][0].status, Status::Present);
}

async fn rejects_bad_requests(h: &Harness) {
    let store = h.store().await;
    let v = view("v", &["x", "y"], None);
    user_error(
        store
            .write(&v, &[row(key(1), T0, None, vec![Value::Null])])
            .await,
    );
    user_error(
        store
            .write(&v, &[row(key(1), i64::MAX, None, vec![Value::Null; 2])])
            .await,
    );
    user_error(store.write(&view("v", &["__ts"], None), &[]).await);
    user_error(store.write(&view("v", &["x", "x"], None), &[]).await);
    user_error(store.write(&view("a:b", &["x"], None), &[]).await);
    user_error(store.write(&view("", &["x"], None), &[]).await);
    let bad_read = ReadView {
        view: "v".into(),
        features: vec!["__created".into()],
        ttl: None,
    };
    user_error(store.read(&[key(1)], &[bad_read], T0).await);
    // Nothing was written by the refused calls.
    let got = store.read(&[key(1)], &[read_view(&v)], T0).await.unwrap();
    assert_eq!(got[0][0].status, Status::NotFound);
}

fn user_error<T: std::fmt::Debug>(r: Result<T, OnlineError>) {
    match r {
        Err(e) => assert!(e.is_user_error() && !e.is_unavailable(), "{e}"),
        Ok(v) => panic!("should be refused, got {v:?}"),
    }
}

async fn empty_requests(h: &Harness) {
    let store = h.store().await;
    let v = view("v", &["x"], None);
    assert_eq!(store.write(&v, &[]).await.unwrap(), WriteReport::default());
    assert!(
        store
            .read(&[], &[read_view(&v)], T0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.read(&[key(1), key(2)], &[], T0).await.unwrap(),
        vec![Vec::<ViewValues>::new(), Vec::new()]
    );
    // A view with no features still reports whether the row exists.
    store
        .write(&v, &[row(key(1), T0, None, vec![Value::Int64(1)])])
        .await
        .unwrap();
    let bare = ReadView {
        view: "v".into(),
        features: Vec::new(),
        ttl: None,
    };
    let got = store.read(&[key(1), key(2)], &[bare], T0).await.unwrap();
    assert_eq!(got[0][0].status, Status::Present);
    assert_eq!(got[0][0].event_ts, Some(T0));
    assert_eq!(got[1][0].status, Status::NotFound);
    let _ = h.is_redis();
}
