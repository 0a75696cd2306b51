//! One value-range rule on every write path (issue 14, rows 6, 8 and 13), on
//! the real binary with a Redis online store: a value its type cannot hold, a
//! time outside the supported range (1684-07-28 to 2255-06-05), a null join key
//! or a null event time is refused on push (400 naming the row and the value),
//! dead-lettered by the Kafka ingest, and dropped and counted by batch
//! materialization, so the offline and online stores always hold the same rows.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{AsArray, Float32Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit, TimestampMicrosecondType};
use chrono::{DateTime, Utc};
use common::{Server, init_repo, quiver, rfc3339, start_server, this_hour};
use serde_json::{Value, json};

const PUSHED: &str = "pushed";
const EDGE: &str = "edge_stats";

/// A view fed by the sample's push source (no checks: the range rule alone
/// decides), and a view of a Parquet source written by the test.
const DEFINITIONS: &str = r#"
sources:
  - name: edge_source
    kind: parquet
    path: data/edge.parquet
    timestamp_field: event_timestamp
    created_timestamp_field: created

feature_views:
  - name: pushed
    entities: [driver]
    source: driver_stats_source
    stream_source: driver_stats_push
    features:
      - { name: conv_rate, dtype: float32 }
      - { name: avg_daily_trips, dtype: int64 }
  - name: edge_stats
    entities: [driver]
    source: edge_source
    features:
      - { name: conv_rate, dtype: float32 }
"#;

/// A sample repo with a Redis online store (its own project, so tests sharing
/// the Redis never collide), the Kafka ingest reading `topic`, and the views above.
fn repo(name: &str, topic: &str) -> (tempfile::TempDir, PathBuf) {
    let project = quiver_testkit::unique_name(name);
    let (dir, repo) = init_repo(&project, 3, 24);
    common::use_redis_and_kafka(&repo, &project, &quiver_testkit::redis_url(), topic);
    std::fs::write(repo.join("ranges.yaml"), DEFINITIONS).unwrap();
    write_edge_source(&repo, &[]);
    quiver(&repo, &["apply"], &[]);
    (dir, repo)
}

/// One row of `data/edge.parquet`.
struct EdgeRow {
    driver: Option<i64>,
    event_us: Option<i64>,
    created_us: Option<i64>,
    conv_rate: f32,
}

fn write_edge_source(repo: &Path, rows: &[EdgeRow]) {
    let timestamp = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("driver_id", DataType::Int64, true),
        Field::new("event_timestamp", timestamp.clone(), true),
        Field::new("created", timestamp, true),
        Field::new("conv_rate", DataType::Float32, true),
    ]));
    let utc =
        |values: Vec<Option<i64>>| TimestampMicrosecondArray::from(values).with_timezone("UTC");
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.driver).collect::<Vec<_>>(),
            )),
            Arc::new(utc(rows.iter().map(|r| r.event_us).collect())),
            Arc::new(utc(rows.iter().map(|r| r.created_us).collect())),
            Arc::new(Float32Array::from(
                rows.iter().map(|r| r.conv_rate).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(repo.join("data/edge.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn us(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_micros()
}

async fn post(server: &Server, route: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{route}", server.url))
        .json(body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// driver -> (status, conv_rate) of `view` in the online store, read now.
async fn online(server: &Server, view: &str, drivers: &[i64]) -> BTreeMap<i64, (String, Value)> {
    let body =
        json!({"features": [format!("{view}:conv_rate")], "entities": {"driver_id": drivers}});
    let (status, answer) = post(server, "/get-online-features", &body).await;
    assert_eq!(status, 200, "{answer}");
    let feature = &answer["results"][1];
    drivers
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                *d,
                (
                    feature["statuses"][i].as_str().unwrap().to_string(),
                    feature["values"][i].clone(),
                ),
            )
        })
        .collect()
}

/// (driver, event time) of every stored row of `view`, sorted.
fn offline_rows(repo: &Path, view: &str) -> Vec<(i64, i64)> {
    let mut rows: Vec<(i64, i64)> = common::stored_batches(repo, view)
        .iter()
        .flat_map(|batch| {
            let ids = batch
                .column_by_name("driver_id")
                .unwrap()
                .as_primitive::<Int64Type>()
                .clone();
            let ts = batch
                .column_by_name("__event_ts")
                .unwrap()
                .as_primitive::<TimestampMicrosecondType>()
                .clone();
            (0..batch.num_rows())
                .map(|i| (ids.value(i), ts.value(i)))
                .collect::<Vec<_>>()
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// The count of `check` (policy `drop`) in a run's `checks`.
fn dropped(checks: &Value, check: &str) -> u64 {
    let entry = checks
        .as_array()
        .unwrap_or_else(|| panic!("no checks: {checks}"))
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no `{check}` in {checks}"));
    assert_eq!(entry["policy"], "drop", "{entry}");
    entry["violations"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_refuses_values_beyond_their_type_and_times_out_of_range_and_stores_nothing() {
    let (_dir, repo) = repo("ranges_push", "ranges_push_unused");
    let server = start_server(&repo, &[], &[]);
    let at = rfc3339(this_hour());
    let push = |df: Value| {
        let server = &server;
        async move {
            post(
                server,
                "/push",
                &json!({"push_source_name": "driver_stats_push", "df": df, "to": "online_and_offline"}),
            )
            .await
        }
    };
    let refusals = [
        // A finite number beyond float32 (it would be stored as +inf), on row 1.
        (
            json!({"driver_id": [1, 2], "event_timestamp": [at, at], "conv_rate": [0.5, 3.5e38]}),
            vec!["row 1", "out_of_range", "conv_rate", "3.5e+38", "float32"],
        ),
        (
            json!({"driver_id": [1], "event_timestamp": [at], "conv_rate": [-3.5e38]}),
            vec!["row 0", "out_of_range", "conv_rate", "-3.5e+38"],
        ),
        (
            json!({"driver_id": [1], "event_timestamp": [at], "avg_daily_trips": [9223372036854775808u64]}),
            vec![
                "row 0",
                "out_of_range",
                "avg_daily_trips",
                "9223372036854775808",
                "int64",
            ],
        ),
        // Times outside the supported range: 1677 (the nanosecond limit) and year 1.
        (
            json!({"driver_id": [1, 2], "event_timestamp": [at, "1677-09-21T00:12:43.145225Z"]}),
            vec![
                "row 1",
                "out_of_range",
                "event_timestamp",
                "1677-09-21",
                "1684-07-28",
            ],
        ),
        (
            json!({"driver_id": [1], "event_timestamp": ["0001-01-01T00:00:00Z"]}),
            vec!["row 0", "out_of_range", "0001-01-01"],
        ),
        // Rows that cannot be matched or placed in time.
        (
            json!({"driver_id": [1, null], "event_timestamp": [at, at]}),
            vec!["row 1", "missing_key", "driver_id"],
        ),
        (
            json!({"driver_id": [1, 2], "event_timestamp": [at, null]}),
            vec!["row 1", "missing_timestamp", "event_timestamp"],
        ),
    ];
    for (df, needles) in refusals {
        let (status, answer) = push(df.clone()).await;
        assert_eq!(status, 400, "{df}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        for needle in needles.iter().chain(&["nothing was written"]) {
            assert!(message.contains(needle), "`{needle}` in {message}");
        }
    }
    // Nothing of any refused request is stored, not even its good rows.
    let nothing = online(&server, PUSHED, &[1, 2]).await;
    assert!(
        nothing.values().all(|(status, _)| status == "NOT_FOUND"),
        "{nothing:?}"
    );
    assert_eq!(offline_rows(&repo, PUSHED), vec![]);

    // The largest float32 and the range's last instant are values like any other.
    let (status, answer) = push(json!({"driver_id": [1, 2],
        "event_timestamp": [at, "2255-06-05T23:47:34Z"], "conv_rate": [3.4028235e38, -0.5]}))
    .await;
    assert_eq!(status, 200, "{answer}");
    let stored = online(&server, PUSHED, &[1, 2]).await;
    assert_eq!(stored[&1].0, "PRESENT");
    // f32::MAX, printed as its shortest decimal (not null, not infinity).
    assert_eq!(stored[&1].1.as_f64(), Some(3.4028235e38), "{stored:?}");
    assert_eq!(stored[&2], ("PRESENT".to_string(), json!(-0.5)));
    assert_eq!(
        offline_rows(&repo, PUSHED),
        vec![(1, us(&at)), (2, us("2255-06-05T23:47:34Z"))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn materialization_drops_and_counts_rows_without_keys_times_or_times_in_range() {
    let (_dir, repo) = repo("ranges_batch", "ranges_batch_unused");
    let now = this_hour();
    let hour_ago = (now - chrono::Duration::hours(1)).timestamp_micros();
    let two_hours_ago = (now - chrono::Duration::hours(2)).timestamp_micros();
    let year_1677 = us("1677-09-21T00:12:43.145225Z");
    let year_1 = us("0001-01-01T00:00:00Z");
    let row = |driver, event_us, created_us, conv_rate| EdgeRow {
        driver,
        event_us,
        created_us,
        conv_rate,
    };
    write_edge_source(
        &repo,
        &[
            row(Some(1), Some(hour_ago), Some(hour_ago), 0.1),
            row(Some(2), Some(two_hours_ago), None, 0.2),
            // Out of range: driver 2's row of 1677, driver 3's only row (year 1),
            // and driver 5's row with a created time of year 1.
            row(Some(2), Some(year_1677), None, 0.3),
            row(Some(3), Some(year_1), None, 0.4),
            row(Some(5), Some(hour_ago), Some(year_1), 0.7),
            // No key; no event time.
            row(None, Some(hour_ago), None, 0.5),
            row(Some(4), None, None, 0.6),
        ],
    );
    // The window reaches back to year 1, so every row is read.
    let (start, end) = (
        "0001-01-01T00:00:00Z",
        rfc3339(now + chrono::Duration::hours(1)),
    );
    let out = quiver(
        &repo,
        &["--json", "materialize", start, &end, "--views", EDGE],
        &[],
    );
    let reports: Value = serde_json::from_str(&out).unwrap();
    let report = &reports[0];
    assert_eq!(report["view"], EDGE, "{reports}");
    assert_eq!(report["rows_read"], 7, "{report}");
    assert_eq!(report["rows"], 2, "{report}");
    assert_eq!(dropped(&report["checks"], "null_join_key"), 1);
    assert_eq!(dropped(&report["checks"], "null_event_timestamp"), 1);
    assert_eq!(dropped(&report["checks"], "timestamp_out_of_range"), 3);
    // The online half ran (it failed for the whole view before).
    assert_eq!(report["online"]["written"], 2, "{report}");

    // The run's record says the same (`quiver list runs`).
    let runs: Value =
        serde_json::from_str(&quiver(&repo, &["--json", "list", "runs"], &[])).unwrap();
    let run = |target: &str| {
        runs.as_array()
            .unwrap()
            .iter()
            .find(|r| r["view"] == EDGE && r["target"] == target)
            .unwrap_or_else(|| panic!("no {target} run of {EDGE} in {runs}"))
            .clone()
    };
    let offline_run = run("offline");
    assert_eq!(offline_run["status"], "succeeded", "{offline_run}");
    assert_eq!(offline_run["rows_read"], 7);
    assert_eq!(offline_run["rows_written"], 2);
    assert_eq!(dropped(&offline_run["checks"], "null_join_key"), 1);
    assert_eq!(dropped(&offline_run["checks"], "null_event_timestamp"), 1);
    assert_eq!(dropped(&offline_run["checks"], "timestamp_out_of_range"), 3);
    assert_eq!(run("online")["status"], "succeeded");
    let table = quiver(&repo, &["list", "runs"], &[]);
    assert!(
        table.contains("null_join_key 1 dropped")
            && table.contains("timestamp_out_of_range 3 dropped"),
        "{table}"
    );

    // Neither store holds a refused row: the offline store has the two good
    // rows, and online answers at T what the point-in-time join answers at T.
    assert_eq!(
        offline_rows(&repo, EDGE),
        vec![(1, hour_ago), (2, two_hours_ago)]
    );
    let server = start_server(&repo, &[], &[]);
    let drivers = [1, 2, 3, 4, 5];
    let served = online(&server, EDGE, &drivers).await;
    let expected: BTreeMap<i64, (String, Value)> = [
        (1, ("PRESENT", json!(0.1))),
        (2, ("PRESENT", json!(0.2))),
        (3, ("NOT_FOUND", Value::Null)),
        (4, ("NOT_FOUND", Value::Null)),
        (5, ("NOT_FOUND", Value::Null)),
    ]
    .into_iter()
    .map(|(d, (s, v))| (d, (s.to_string(), v)))
    .collect();
    assert_eq!(served, expected);
    let at = rfc3339(Utc::now());
    let (status, training) = post(
        &server,
        "/get-historical-features",
        &json!({"features": [format!("{EDGE}:conv_rate")],
                "entities": {"driver_id": drivers, "event_timestamp": vec![at; drivers.len()]}}),
    )
    .await;
    assert_eq!(status, 200, "{training}");
    let joined: Vec<Value> = training
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.get("conv_rate").cloned().unwrap_or(Value::Null))
        .collect();
    let online_values: Vec<Value> = drivers.iter().map(|d| served[d].1.clone()).collect();
    assert_eq!(joined, online_values, "offline at T == online at T");

    // Through the server the same run is counted in its answer and /metrics.
    let (status, answer) = post(
        &server,
        "/materialize",
        &json!({"start_ts": start, "end_ts": end, "feature_views": [EDGE]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        dropped(&answer[0]["checks"], "null_join_key"),
        1,
        "{answer}"
    );
    let metrics = common::metrics(&server).await;
    for (check, n) in [
        ("null_join_key", 1),
        ("null_event_timestamp", 1),
        ("timestamp_out_of_range", 3),
    ] {
        let needle = format!(
            r#"quiver_check_violations_total{{view="{EDGE}",check="{check}",policy="drop"}} {n}"#
        );
        assert!(metrics.contains(&needle), "`{needle}` in\n{metrics}");
    }
    assert_eq!(
        offline_rows(&repo, EDGE),
        vec![(1, hour_ago), (2, two_hours_ago)],
        "the run again replaces its window with the same rows"
    );
}

// ---------------------------------------------------------------------------
// Kafka

async fn produce(topic: &str, payloads: &[String]) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", quiver_testkit::kafka_bootstrap())
        .set("batch.num.messages", "1")
        .set("acks", "all")
        .create()
        .unwrap();
    for payload in payloads {
        // One key: one partition keeps the order.
        let record: FutureRecord<'_, str, str> = FutureRecord::to(topic).key("k").payload(payload);
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| e)
            .expect("produce");
    }
}

/// Every dead letter of `topic` as (payload, reason), until `count` arrived.
fn dead_letters(topic: &str, count: usize) -> Vec<(String, String)> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Headers;
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", quiver_testkit::kafka_bootstrap())
        .set("group.id", quiver_testkit::unique_name("ranges_dlq"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut letters = Vec::new();
    let started = Instant::now();
    while letters.len() < count && started.elapsed() < Duration::from_secs(90) {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let reason = message
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|h| h.key == quiver_stream::REASON_HEADER)
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            })
            .unwrap_or_default();
        let payload = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        letters.push((payload, reason));
    }
    letters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_ingest_dead_letters_values_beyond_their_type_and_times_out_of_range() {
    let project_topic = quiver_testkit::unique_name("ranges_events");
    let (_dir, repo) = repo("ranges_kafka", &project_topic);
    quiver_stream::ensure_topics(
        &quiver_testkit::kafka_bootstrap(),
        &[project_topic.as_str()],
        1,
        &BTreeMap::new(),
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "cannot reach the Kafka broker at {} ({e}); scripts/test.sh starts one",
            quiver_testkit::kafka_bootstrap()
        )
    });
    let at = rfc3339(this_hour() - chrono::Duration::hours(1));
    let message = |driver: Value, ts: Value, conv_rate: Value| {
        json!({"driver_id": driver, "event_timestamp": ts, "conv_rate": conv_rate,
               "acc_rate": 0.5, "avg_daily_trips": 1})
        .to_string()
    };
    let bad = [
        (
            message(json!(7001), json!(at), json!(3.5e38)),
            "out_of_range",
        ),
        (
            message(
                json!(7002),
                json!("1677-09-21T00:12:43.145225Z"),
                json!(0.5),
            ),
            "out_of_range",
        ),
        (
            message(json!(7003), json!("0001-01-01T00:00:00Z"), json!(0.5)),
            "out_of_range",
        ),
        (message(Value::Null, json!(at), json!(0.5)), "missing_key"),
        (
            message(json!(7004), Value::Null, json!(0.5)),
            "missing_timestamp",
        ),
    ];
    let good = message(json!(7005), json!(at), json!(0.25));
    let mut payloads: Vec<String> = bad.iter().map(|(p, _)| p.clone()).collect();
    payloads.push(good);
    produce(&project_topic, &payloads).await;

    let server = start_server(&repo, &["--ingest", "--log-every", "1s"], &[]);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let stats = loop {
        let stats: Value = client
            .get(format!("{}/ingest-stats", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["committed_messages"].as_u64() >= Some(payloads.len() as u64) {
            break stats;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not consumed: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        stats["rejected"],
        json!({"out_of_range": 3, "missing_key": 1, "missing_timestamp": 1}),
        "{stats}"
    );
    let project = std::fs::read_to_string(repo.join("quiver.yaml")).unwrap();
    let project = project
        .lines()
        .find_map(|l| l.strip_prefix("project: "))
        .unwrap()
        .to_string();
    let letters = dead_letters(&format!("quiver-{project}-dead-letter"), bad.len());
    let expected: Vec<(String, String)> = bad
        .iter()
        .map(|(p, r)| (p.clone(), r.to_string()))
        .collect();
    assert_eq!(letters, expected);

    // Only the good message reached the stores.
    let served = online(
        &server,
        "driver_hourly_stats",
        &[7001, 7002, 7003, 7004, 7005],
    )
    .await;
    for driver in [7001, 7002, 7003, 7004] {
        assert_eq!(served[&driver].0, "NOT_FOUND", "{served:?}");
    }
    assert_eq!(served[&7005], ("PRESENT".to_string(), json!(0.25)));
    let stored: Vec<i64> = offline_rows(&repo, "driver_hourly_stats")
        .into_iter()
        .map(|(d, _)| d)
        .filter(|d| *d >= 7000)
        .collect();
    assert_eq!(stored, vec![7005]);
}
