//! The streaming tier end to end, against the real Kafka-protocol broker and
//! the real Redis that `scripts/test.sh` starts: `quiver serve --ingest` is run
//! as a process, events are produced with rdkafka, and what serving and
//! training see is checked against the events themselves.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::util::display::array_value_to_string;
use chrono::{DateTime, Utc};
use common::{Server, quiver, rfc3339, start_server, terminate};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::{Value, json};

const VIEW: &str = "driver_hourly_stats";
const PUSH_VIEW: &str = "driver_pushed_stats";
const PARTITIONS: i32 = 3;
const WAIT: Duration = Duration::from_secs(90);

/// A view fed by the sample's push source, beside the sample's definitions.
const PUSH_DEFINITIONS: &str = r#"
feature_views:
  - name: driver_pushed_stats
    entities: [driver]
    source: driver_stats_source
    stream_source: driver_stats_push
    ttl: 2d
    features:
      - { name: conv_rate, dtype: float32 }
      - { name: avg_daily_trips, dtype: int64 }
"#;

/// One produced event of `driver_hourly_stats`.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    driver: i64,
    at: DateTime<Utc>,
    conv_rate: f32,
    acc_rate: f32,
    trips: i64,
}

impl Event {
    /// The message: timestamps alternate between RFC 3339 (with an offset) and epoch seconds.
    fn json(&self, i: usize) -> String {
        let at = if i.is_multiple_of(2) {
            json!(
                self.at
                    .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
                    .to_rfc3339()
            )
        } else {
            json!(self.at.timestamp_micros() as f64 / 1e6)
        };
        json!({"driver_id": self.driver, "event_timestamp": at, "conv_rate": self.conv_rate,
               "acc_rate": self.acc_rate, "avg_daily_trips": self.trips})
        .to_string()
    }
}

/// `per_driver` events for each of `drivers` drivers from `first`, one minute
/// apart, each driver's in a shuffled order (so they arrive out of order).
fn events(first_driver: i64, drivers: i64, per_driver: i64, start: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    for d in 0..drivers {
        let driver = first_driver + d;
        // A fixed permutation of 0..per_driver: stride 7 (coprime with the counts used).
        let order: Vec<i64> = (0..per_driver).map(|k| (k * 7 + d) % per_driver).collect();
        for k in order {
            out.push(Event {
                driver,
                at: start + chrono::Duration::minutes(k),
                // Inside the example repo's checks (rates in [0, 1]).
                conv_rate: (driver % 50) as f32 / 100.0 + (k % 400) as f32 / 1000.0,
                acc_rate: 0.5 + (k % 400) as f32 / 1000.0,
                trips: driver * 1000 + k,
            });
        }
    }
    out
}

/// The latest event per driver (what online must serve).
fn latest(events: &[Event]) -> BTreeMap<i64, Event> {
    let mut out: BTreeMap<i64, Event> = BTreeMap::new();
    for e in events {
        if out.get(&e.driver).is_none_or(|l| l.at < e.at) {
            out.insert(e.driver, e.clone());
        }
    }
    out
}

/// A repo from `quiver init` with a Redis online store, the Kafka ingest on
/// the test broker reading its own topic, and the push view.
struct StreamRepo {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    project: String,
    topic: String,
}

impl StreamRepo {
    fn new(name: &str, topic: Option<&str>) -> Self {
        Self::with_redis(name, topic, &quiver_testkit::redis_url())
    }

    fn with_redis(name: &str, topic: Option<&str>, redis_url: &str) -> Self {
        let project = quiver_testkit::unique_name(name);
        let topic = topic.map_or_else(|| format!("{project}_events"), str::to_string);
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let args = [
            "init",
            repo.to_str().unwrap(),
            "--drivers",
            "3",
            "--hours",
            "2",
        ];
        quiver(Path::new("."), &args, &[]);
        common::use_redis_and_kafka(&repo, &project, redis_url, &topic);
        std::fs::write(repo.join("push.yaml"), PUSH_DEFINITIONS).unwrap();
        quiver(&repo, &["apply"], &[]);
        StreamRepo {
            _dir: dir,
            repo,
            project,
            topic,
        }
    }

    fn dead_letter_topic(&self) -> String {
        format!("quiver-{}-dead-letter", self.project)
    }

    fn serve(&self, extra: &[&str]) -> Server {
        let mut args = vec!["--ingest", "--log-every", "1s"];
        args.extend_from_slice(extra);
        start_server(&self.repo, &args, &[])
    }

    /// Every offline row of `view`, one text line per row, sorted.
    fn offline_rows(&self, view: &str) -> Vec<String> {
        let mut rows = Vec::new();
        for batch in common::stored_batches(&self.repo, view) {
            for row in 0..batch.num_rows() {
                let cells: Vec<String> = batch
                    .columns()
                    .iter()
                    .map(|c| array_value_to_string(c, row).unwrap())
                    .collect();
                rows.push(cells.join("|"));
            }
        }
        rows.sort();
        rows
    }
}

fn client_config() -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", quiver_testkit::kafka_bootstrap());
    config
}

async fn create_topic(topic: &str) {
    quiver_stream::ensure_topics(
        &quiver_testkit::kafka_bootstrap(),
        &[topic],
        PARTITIONS,
        &BTreeMap::new(),
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "cannot reach the Kafka broker at {} ({e}); scripts/test.sh starts one",
            quiver_testkit::kafka_bootstrap()
        )
    });
}

/// Produces `(key, payload)` messages, in order, and waits for every ack.
async fn produce(topic: &str, messages: &[(Option<String>, Option<String>)]) {
    // One record per batch: tansu 0.6 returns nothing for a fetch that starts
    // inside a record batch, and a restarted worker resumes at its own commit
    // point, which need not be a producer's batch boundary (Kafka handles this).
    let producer: FutureProducer = client_config()
        .set("linger.ms", "5")
        .set("batch.num.messages", "1")
        .set("acks", "all")
        .create()
        .unwrap();
    let sends = messages.iter().map(|(key, payload)| {
        let mut record: FutureRecord<'_, str, str> = FutureRecord::to(topic);
        if let Some(key) = key {
            record = record.key(key.as_str());
        }
        if let Some(payload) = payload {
            record = record.payload(payload.as_str());
        }
        producer.send(record, Duration::from_secs(30))
    });
    for result in futures::future::join_all(sends).await {
        result.map_err(|(e, _)| e).expect("produce");
    }
}

async fn produce_events(topic: &str, events: &[Event]) {
    let messages: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (Some(e.driver.to_string()), Some(e.json(i))))
        .collect();
    produce(topic, &messages).await;
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client.post(url).json(body).send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// `POST route` on the server, asserting a 200; the JSON answer.
async fn call(server: &Server, route: &str, body: &Value) -> Value {
    let (status, answer) = post(
        &reqwest::Client::new(),
        &format!("{}{route}", server.url),
        body,
    )
    .await;
    assert_eq!(status, 200, "{route}: {answer}");
    answer
}

/// Polls the server's ingest counters until `done` holds for them.
async fn wait_for_stats(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let stats = get(&client, &format!("{}/ingest-stats", server.url)).await;
        if done(&stats) {
            return stats;
        }
        assert!(
            started.elapsed() < WAIT,
            "timed out waiting for {what}: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every message of the ingest's batches is written and committed.
async fn wait_until_consumed(server: &Server, messages: u64) -> Value {
    wait_for_stats(server, &format!("{messages} messages committed"), |s| {
        s["committed_messages"].as_u64() >= Some(messages)
    })
    .await
}

/// `quiver online`-style lookup over HTTP: driver -> (status, values, event time).
async fn online(server: &Server, drivers: &[i64]) -> BTreeMap<i64, (String, Vec<Value>, Value)> {
    let body = json!({
        "features": [format!("{VIEW}:conv_rate"), format!("{VIEW}:acc_rate"), format!("{VIEW}:avg_daily_trips")],
        "entities": {"driver_id": drivers},
    });
    let answer = call(server, "/get-online-features", &body).await;
    let results = answer["results"].as_array().unwrap();
    drivers
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let statuses: Vec<&str> = results[1..]
                .iter()
                .map(|r| r["statuses"][i].as_str().unwrap())
                .collect();
            let values = results[1..]
                .iter()
                .map(|r| r["values"][i].clone())
                .collect();
            (
                *d,
                (
                    statuses.join(","),
                    values,
                    results[1]["event_timestamps"][i].clone(),
                ),
            )
        })
        .collect()
}

fn expected_online(event: &Event) -> (String, Vec<Value>, Value) {
    (
        "PRESENT,PRESENT,PRESENT".into(),
        vec![
            float32(event.conv_rate),
            float32(event.acc_rate),
            json!(event.trips),
        ],
        json!(rfc3339(event.at)),
    )
}

/// A float32 as the API prints it: its shortest decimal text.
fn float32(v: f32) -> Value {
    json!(v.to_string().parse::<f64>().unwrap())
}

/// The group's committed offset of every partition of `topic`.
fn committed(group: &str, topic: &str) -> Vec<i64> {
    let consumer: BaseConsumer = client_config().set("group.id", group).create().unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition(topic, p);
    }
    let list = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    list.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_to_online_and_offline_out_of_order_replay_and_point_in_time() {
    let repo = StreamRepo::new("stream_main", None);
    create_topic(&repo.topic).await;
    let start = common::this_hour() - chrono::Duration::hours(3);
    let sent = events(5000, 20, 25, start);
    produce_events(&repo.topic, &sent).await;

    let server = repo.serve(&[]);
    let stats = wait_until_consumed(&server, sent.len() as u64).await;
    assert_eq!(stats["rejected"], json!({}), "{stats}");
    assert_eq!(stats["rows"]["offline"], json!(sent.len()), "{stats}");

    // Online: the newest event of every driver, though each arrived out of order.
    let expected = latest(&sent);
    let drivers: Vec<i64> = expected.keys().copied().chain([4242]).collect();
    let served = online(&server, &drivers).await;
    for (driver, event) in &expected {
        assert_eq!(served[driver], expected_online(event), "driver {driver}");
    }
    assert!(served[&4242].0.starts_with("NOT_FOUND"));

    // Offline: every event exactly once, and a point-in-time join agrees with
    // the events at every kind of instant, and with online at now.
    assert_eq!(repo.offline_rows(VIEW).len(), sent.len());
    let mut entity_driver = Vec::new();
    let mut entity_time = Vec::new();
    let mut wanted: Vec<Option<&Event>> = Vec::new();
    let now = Utc::now();
    for driver in expected.keys() {
        let mine: Vec<&Event> = sent.iter().filter(|e| e.driver == *driver).collect();
        for t in [
            start - chrono::Duration::seconds(1),
            start,
            start + chrono::Duration::seconds(90),
            start + chrono::Duration::minutes(7),
            now,
        ] {
            entity_driver.push(*driver);
            entity_time.push(rfc3339(t));
            wanted.push(
                mine.iter()
                    .filter(|e| e.at <= t)
                    .max_by_key(|e| e.at)
                    .copied(),
            );
        }
    }
    let body = json!({
        "features": [format!("{VIEW}:conv_rate"), format!("{VIEW}:avg_daily_trips")],
        "entities": {"driver_id": entity_driver, "event_timestamp": entity_time,
                     "row": (0..wanted.len()).collect::<Vec<_>>()},
    });
    let rows = call(&server, "/get-historical-features", &body).await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), wanted.len());
    for row in rows {
        let i = row["row"].as_u64().unwrap() as usize;
        let expect = wanted[i].map_or((Value::Null, Value::Null), |e| {
            (float32(e.conv_rate), json!(e.trips))
        });
        let got = (
            row.get("conv_rate").cloned().unwrap_or(Value::Null),
            row.get("avg_daily_trips").cloned().unwrap_or(Value::Null),
        );
        assert_eq!(got, expect, "row {row}");
        if entity_time[i] == rfc3339(now) {
            let online = &served[&row["driver_id"].as_i64().unwrap()].1;
            assert_eq!(
                (&online[0], &online[2]),
                (&got.0, &got.1),
                "online = offline at now"
            );
        }
    }

    // The lag is exposed per partition, and is zero once all is committed.
    wait_for_stats(&server, "the lag of every partition", |s| {
        s["lag"]
            .as_object()
            .is_some_and(|l| l.len() == PARTITIONS as usize)
            && s["total_lag"] == json!(0)
    })
    .await;

    // SIGTERM: the last batch is committed and the worker exits cleanly.
    terminate(server);
    let group = format!("quiver-{}", repo.project);
    let committed_total: i64 = committed(&group, &repo.topic).iter().sum();
    assert_eq!(committed_total, sent.len() as i64);

    // A replay of the whole topic (a new consumer group) changes nothing.
    let offline_before = repo.offline_rows(VIEW);
    let server = repo.serve(&["--group", "replay"]);
    let stats = wait_until_consumed(&server, sent.len() as u64).await;
    assert_eq!(stats["rows"]["offline"], json!(0), "{stats}");
    assert_eq!(
        stats["offline_replayed_skipped"],
        json!(sent.len()),
        "{stats}"
    );
    assert_eq!(online(&server, &drivers).await, served);
    assert_eq!(repo.offline_rows(VIEW), offline_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_go_to_the_dead_letter_topic_and_the_rest_is_applied() {
    let repo = StreamRepo::new("stream_dlq", None);
    create_topic(&repo.topic).await;
    let at = common::this_hour() - chrono::Duration::hours(1);
    let good = |driver: i64, trips: i64| {
        Event {
            driver,
            at,
            conv_rate: 0.25,
            acc_rate: 0.75,
            trips,
        }
        .json(0)
    };
    let key = Some("k".to_string());
    let ts = rfc3339(at);
    // All on one key, so one partition keeps their order.
    let messages: Vec<(Option<String>, Option<String>, Option<&str>)> = vec![
        (key.clone(), Some(good(6001, 1)), None),
        (key.clone(), Some("{not json".into()), Some("not_json")),
        (key.clone(), Some("[1, 2, 3]".into()), Some("not_an_object")),
        (
            key.clone(),
            Some(json!({"event_timestamp": ts}).to_string()),
            Some("missing_key"),
        ),
        (
            key.clone(),
            Some(json!({"driver_id": "x", "event_timestamp": ts}).to_string()),
            Some("wrong_type"),
        ),
        (
            key.clone(),
            Some(
                json!({"driver_id": 6009, "event_timestamp": ts, "avg_daily_trips": 1.5})
                    .to_string(),
            ),
            Some("wrong_type"),
        ),
        (
            key.clone(),
            Some(json!({"driver_id": 6009}).to_string()),
            Some("missing_timestamp"),
        ),
        (
            key.clone(),
            Some(json!({"driver_id": 6009, "event_timestamp": "yesterday"}).to_string()),
            Some("bad_timestamp"),
        ),
        (key.clone(), None, Some("not_json")),
        // The example repo's checks: acc_rate in [0, 1] (drop), conv_rate in [0, 1] (fail).
        (
            key.clone(),
            Some(json!({"driver_id": 6009, "event_timestamp": ts, "acc_rate": 1.5}).to_string()),
            Some("check_failed"),
        ),
        (
            key.clone(),
            Some(json!({"driver_id": 6009, "event_timestamp": ts, "conv_rate": -0.5}).to_string()),
            Some("check_failed"),
        ),
        (key.clone(), Some(good(6002, 2)), None),
    ];
    let payloads: Vec<_> = messages
        .iter()
        .map(|(k, p, _)| (k.clone(), p.clone()))
        .collect();
    produce(&repo.topic, &payloads).await;

    // One window of statistics for the whole test: no boundary to straddle.
    let server = repo.serve(&["--stats-window", "3650d"]);
    let stats = wait_until_consumed(&server, messages.len() as u64).await;
    assert_eq!(
        stats["rejected"],
        json!({"not_json": 2, "not_an_object": 1, "missing_key": 1, "wrong_type": 2,
               "missing_timestamp": 1, "bad_timestamp": 1, "check_failed": 2}),
        "{stats}"
    );
    let served = online(&server, &[6001, 6002, 6009]).await;
    assert_eq!(served[&6001].1[2], json!(1));
    assert_eq!(
        served[&6002].1[2],
        json!(2),
        "a good message after bad ones is applied"
    );
    assert!(served[&6009].0.starts_with("NOT_FOUND"));

    // The dead letters: the original payloads, in order, with their reasons.
    let consumer: BaseConsumer = client_config()
        .set("group.id", quiver_testkit::unique_name("dlq_reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&repo.dead_letter_topic()]).unwrap();
    let wanted: Vec<_> = messages.iter().filter(|m| m.2.is_some()).collect();
    let mut letters = Vec::new();
    let started = Instant::now();
    while letters.len() < wanted.len() && started.elapsed() < WAIT {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let headers = message.headers().expect("dead letters carry headers");
        let header = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        letters.push((
            message
                .payload()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            header(quiver_stream::REASON_HEADER),
            header(quiver_stream::DETAIL_HEADER).is_some_and(|d| !d.is_empty()),
            header(quiver_stream::SOURCE_HEADER).is_some_and(|s| s.starts_with(&repo.topic)),
        ));
    }
    let expect: Vec<_> = wanted
        .iter()
        .map(|(_, payload, reason)| (payload.clone(), reason.map(str::to_string), true, true))
        .collect();
    assert_eq!(letters, expect);

    // What the checks counted, per check with its policy: in /ingest-stats and
    // /metrics; every check judges every row (a stream's `fail` refuses, it
    // cannot stop), so the second refused message counts twice.
    let stats = wait_for_stats(&server, "check counts", |s| {
        !s["checks"]["driver_hourly_stats"].is_null()
    })
    .await;
    assert_eq!(
        stats["checks"]["driver_hourly_stats"],
        json!([{"check": "acc_rate:max", "policy": "drop", "violations": 1},
               {"check": "acc_rate:not_null", "policy": "drop", "violations": 1},
               {"check": "conv_rate:min", "policy": "fail", "violations": 1}]),
        "{stats}"
    );
    let metrics = common::metrics(&server).await;
    assert!(
        metrics.contains(
            r#"quiver_ingest_check_violations{view="driver_hourly_stats",check="conv_rate:min",policy="fail"} 1"#
        ),
        "{metrics}"
    );

    // A clean stop records the open window of streamed rows: the statistics
    // of the two rows the ingest kept, and the check counts.
    terminate(server);
    let trips = common::feature_statistics(
        &repo.repo,
        "driver_hourly_stats",
        "kafka",
        "avg_daily_trips",
    );
    assert_eq!(trips["source"], "kafka");
    assert_eq!(trips["rows"], 2, "{trips}");
    let s = &trips["stats"];
    assert_eq!(
        (s["count"].as_u64(), s["nulls"].as_u64()),
        (Some(2), Some(0)),
        "{s}"
    );
    assert_eq!(
        (s["min"].as_f64(), s["max"].as_f64()),
        (Some(1.0), Some(2.0)),
        "{s}"
    );
    assert_eq!(s["mean"].as_f64(), Some(1.5), "{s}");
    assert_eq!(
        trips["checks"],
        json!([{"check": "acc_rate:max", "policy": "drop", "violations": 1},
               {"check": "acc_rate:not_null", "policy": "drop", "violations": 1},
               {"check": "conv_rate:min", "policy": "fail", "violations": 1}])
    );
}

/// A message feeds every view of its topic or none: one refused by a check of
/// one view is dead-lettered once and leaves the other view too; the rest of
/// the micro-batch is written to both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_one_view_refuses_is_refused_whole() {
    let repo = StreamRepo::new("stream_two_views", None);
    std::fs::write(
        repo.repo.join("strict.yaml"),
        "feature_views:
  - name: driver_strict
    entities: [driver]
    source: driver_stats_source
    stream_source: driver_stats_stream
    ttl: 2d
    features:
      - name: conv_rate
        dtype: float32
        checks: [{ check: max, value: 0.5, policy: drop }]
",
    )
    .unwrap();
    quiver(&repo.repo, &["apply"], &[]);
    create_topic(&repo.topic).await;
    let at = common::this_hour() - chrono::Duration::hours(1);
    let event = |driver: i64, conv_rate: f32| {
        let event = Event {
            driver,
            at,
            conv_rate,
            acc_rate: 0.5,
            trips: 1,
        };
        (Some("k".to_string()), Some(event.json(0)))
    };
    // One key: one partition, one micro-batch, in this order.
    let messages = vec![event(7001, 0.25), event(7002, 0.75), event(7003, 0.5)];
    produce(&repo.topic, &messages).await;

    let server = repo.serve(&[]);
    let stats = wait_until_consumed(&server, 3).await;
    assert_eq!(stats["rejected"], json!({"check_failed": 1}), "{stats}");
    assert_eq!(
        stats["checks"]["driver_strict"],
        json!([{"check": "conv_rate:max", "policy": "drop", "violations": 1}]),
        "{stats}"
    );
    let served = online(&server, &[7001, 7002, 7003]).await;
    assert!(served[&7001].0.starts_with("PRESENT"), "{served:?}");
    assert!(
        served[&7002].0.starts_with("NOT_FOUND"),
        "the main view does not take a message the strict view refused: {served:?}"
    );
    assert!(served[&7003].0.starts_with("PRESENT"), "{served:?}");
    let strict = call(
        &server,
        "/get-online-features",
        &json!({"features": ["driver_strict:conv_rate"], "entities": {"driver_id": [7001, 7002, 7003]}}),
    )
    .await;
    assert_eq!(
        strict["results"][1]["statuses"],
        json!(["PRESENT", "NOT_FOUND", "PRESENT"])
    );
    terminate(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_stream_resumes_to_what_a_clean_run_produces() {
    let crashed = StreamRepo::new("stream_crash", None);
    let clean = StreamRepo::new("stream_clean", Some(&crashed.topic));
    create_topic(&crashed.topic).await;
    let sent = events(
        7000,
        100,
        100,
        common::this_hour() - chrono::Duration::hours(5),
    );
    produce_events(&crashed.topic, &sent).await;

    // SIGKILL once a third is consumed: batches are then written but not all committed.
    let mut server = crashed.serve(&[]);
    let third = sent.len() as u64 / 3;
    wait_for_stats(&server, "a third of the messages", |s| {
        s["messages"].as_u64() >= Some(third)
    })
    .await;
    server.kill();
    // Restart once the group has dropped the dead member (10 s session
    // timeout): tansu 0.6 can give a member that joins while the dead one is
    // still counted no partitions, and not rebalance again.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let group = format!("quiver-{}", crashed.project);
    let at_kill: i64 = committed(&group, &crashed.topic).iter().sum();
    assert!(
        at_kill < sent.len() as i64,
        "killed mid-stream (committed {at_kill} of {})",
        sent.len()
    );

    let server = crashed.serve(&[]);
    let started = Instant::now();
    while committed(&group, &crashed.topic).iter().sum::<i64>() < sent.len() as i64 {
        assert!(
            started.elapsed() < WAIT,
            "the restarted worker commits everything"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let reference = clean.serve(&[]);
    wait_until_consumed(&reference, sent.len() as u64).await;

    let drivers: Vec<i64> = latest(&sent).keys().copied().collect();
    let after_crash = online(&server, &drivers).await;
    assert_eq!(after_crash, online(&reference, &drivers).await);
    for (driver, event) in latest(&sent) {
        assert_eq!(after_crash[&driver], expected_online(&event));
    }
    let offline = crashed.offline_rows(VIEW);
    assert_eq!(offline.len(), sent.len(), "nothing lost, nothing twice");
    assert_eq!(offline, clean.offline_rows(VIEW));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_to_each_target() {
    let repo = StreamRepo::new("stream_push", None);
    let server = start_server(&repo.repo, &[], &[]);
    let client = reqwest::Client::new();
    let url = format!("{}/push", server.url);
    let at = common::this_hour() - chrono::Duration::hours(1);
    let push = |driver: i64, trips: i64, to: &str| {
        json!({
            "push_source_name": "driver_stats_push",
            "df": {"driver_id": [driver], "event_timestamp": [rfc3339(at)],
                   "conv_rate": [0.5], "avg_daily_trips": [trips]},
            "to": to,
        })
    };
    let online_trips = async |driver: i64| {
        let body = json!({"features": [format!("{PUSH_VIEW}:avg_daily_trips")],
            "entities": {"driver_id": [driver]}});
        call(&server, "/get-online-features", &body).await["results"][1]["values"][0].clone()
    };
    let historical = async |driver: i64| {
        let body = json!({"features": [format!("{PUSH_VIEW}:avg_daily_trips")],
            "entities": {"driver_id": [driver], "event_timestamp": [rfc3339(Utc::now())]}});
        let rows = call(&server, "/get-historical-features", &body).await;
        rows[0]
            .get("avg_daily_trips")
            .cloned()
            .unwrap_or(Value::Null)
    };

    call(&server, "/push", &push(8001, 1, "online")).await;
    assert_eq!(online_trips(8001).await, json!(1));
    assert_eq!(historical(8001).await, Value::Null, "online only");

    call(&server, "/push", &push(8002, 2, "offline")).await;
    assert_eq!(online_trips(8002).await, Value::Null, "offline only");
    assert_eq!(historical(8002).await, json!(2));

    call(&server, "/push", &push(8003, 3, "online_and_offline")).await;
    assert_eq!(online_trips(8003).await, json!(3));
    assert_eq!(historical(8003).await, json!(3));
    assert_eq!(repo.offline_rows(PUSH_VIEW).len(), 2);

    // Bad pushes: a 400 that says why, and nothing written.
    let bad_row = json!({"push_source_name": "driver_stats_push", "to": "online_and_offline",
        "df": {"driver_id": [8004, "x"], "event_timestamp": [rfc3339(at), rfc3339(at)], "avg_daily_trips": [4, 4]}});
    for (body, needle) in [
        (bad_row, "row 1: wrong_type"),
        (
            json!({"push_source_name": "driver_stats_source", "df": {"driver_id": [1]}}),
            "not a push source",
        ),
        (
            json!({"push_source_name": "driver_stats_push", "df": {"driver_id": [1], "event_timestamp": []}}),
            "different lengths",
        ),
        (
            json!({"push_source_name": "driver_stats_push", "df": {}, "to": "nowhere"}),
            "unknown variant",
        ),
    ] {
        let (status, answer) = post(&client, &url, &body).await;
        assert_eq!(status, 400, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "expected `{needle}` in `{message}`"
        );
    }
    // An unknown push source is 422, as Feast's server answers it.
    let (status, answer) = post(
        &client,
        &url,
        &json!({"push_source_name": "nope", "df": {"driver_id": [1]}}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["message"], "unknown push source `nope`",
        "{answer}"
    );
    assert_eq!(online_trips(8004).await, Value::Null);
    assert_eq!(repo.offline_rows(PUSH_VIEW).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_stalls_the_ingest_and_loses_nothing() {
    let redis = quiver_testkit::redis_url();
    let (target, _) = quiver_testkit::split_redis_url(&redis, "x");
    let proxy = quiver_testkit::TcpProxy::start(target).await;
    let (_, through_proxy) =
        quiver_testkit::split_redis_url(&redis, &format!("127.0.0.1:{}", proxy.port()));
    let repo = StreamRepo::with_redis("stream_outage", None, &through_proxy);
    create_topic(&repo.topic).await;
    let start = common::this_hour() - chrono::Duration::hours(2);
    let before = events(9000, 10, 10, start);
    produce_events(&repo.topic, &before).await;
    let server = repo.serve(&[]);
    wait_until_consumed(&server, before.len() as u64).await;

    // Redis goes away: the next batch is retried, and not committed, until it is back.
    proxy.stop();
    let during = events(9100, 10, 10, start);
    produce_events(&repo.topic, &during).await;
    let stats = wait_for_stats(&server, "retries while Redis is down", |s| {
        s["retries"].as_u64() >= Some(2)
    })
    .await;
    assert_eq!(stats["committed_messages"], json!(before.len()), "{stats}");
    proxy.restart().await;
    let stats = wait_until_consumed(&server, (before.len() + during.len()) as u64).await;
    assert_eq!(stats["rejected"], json!({}), "{stats}");

    let all: Vec<Event> = before.iter().chain(&during).cloned().collect();
    let expected = latest(&all);
    let drivers: Vec<i64> = expected.keys().copied().collect();
    let served = online(&server, &drivers).await;
    for (driver, event) in &expected {
        assert_eq!(served[driver], expected_online(event), "driver {driver}");
    }
    assert_eq!(repo.offline_rows(VIEW).len(), all.len());
}
