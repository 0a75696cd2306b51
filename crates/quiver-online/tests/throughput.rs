//! Rough throughput figures for each store (printed with `--nocapture`; nothing is
//! asserted about time).
// Tests panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::{Harness, SECOND, T0, key, read_view, row, view};
use quiver_online::Value;

const ROWS: i64 = 20_000;

async fn measure(h: &Harness, label: &str) {
    let store = h.store().await;
    let v = view(
        "bench",
        &["trips", "rating", "city", "active", "tags"],
        None,
    );
    let rows: Vec<_> = (0..ROWS)
        .map(|i| {
            row(
                key(i),
                T0 - (i % 3600) * SECOND,
                Some(T0),
                vec![
                    Value::Int64(i),
                    Value::Float64(i as f64 / 7.0),
                    Value::String(format!("city_{}", i % 100)),
                    Value::Bool(i % 2 == 0),
                    Value::List(vec![Value::String("a".into()), Value::Int64(i)]),
                ],
            )
        })
        .collect();
    let started = Instant::now();
    let report = store.write(&v, &rows).await.unwrap();
    let write = started.elapsed();
    assert_eq!(report.written, ROWS as u64);

    let started = Instant::now();
    let report = store.write(&v, &rows).await.unwrap();
    let replay = started.elapsed();
    assert_eq!(
        report.written, ROWS as u64,
        "equal (event, created) replays"
    );

    let keys: Vec<_> = (0..100).map(|i| key(i * 997 % ROWS)).collect();
    let views = [read_view(&v)];
    let reads = 200;
    let started = Instant::now();
    for _ in 0..reads {
        let got = store.read(&keys, &views, T0).await.unwrap();
        assert_eq!(got.len(), 100);
    }
    let read = started.elapsed() / reads;
    println!(
        "{label}: write {ROWS} rows in {write:?} ({:.0} rows/s); replay {:.0} rows/s; \
         read of 100 keys x 5 features: {read:?} per call",
        ROWS as f64 / write.as_secs_f64(),
        ROWS as f64 / replay.as_secs_f64(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_throughput() {
    let h = Harness::redis("throughput");
    measure(&h, "redis").await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_throughput() {
    let h = Harness::embedded("throughput");
    measure(&h, "embedded").await;
    h.finish().await;
}
