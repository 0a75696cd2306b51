//! End to end over HTTP: `POST /get-online-features` (Feast's shape) on the
//! embedded store and on a real Redis that is stopped and started under the
//! server, plus the materialization endpoints and the error responses.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use chrono::Duration;
use common::{applied_repo, materialize_recent, rfc3339, start_server, this_hour};
use serde_json::{Value, json};

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client.post(url).json(body).send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn statuses(result: &Value) -> Vec<&str> {
    result["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_lookups_on_the_embedded_store() {
    let (_dir, repo) = applied_repo("online_embedded");
    materialize_recent(&repo, &[]);
    let server = start_server(&repo, &["--max-online-entities", "5"], &[]);
    let client = reqwest::Client::new();
    let url = format!("{}/get-online-features", server.url);

    let body = json!({
        "features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
        "entities": {"driver_id": [1001, 1002, 4242]},
    });
    let (status, answer) = post(&client, &url, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["metadata"]["feature_names"],
        json!(["driver_id", "conv_rate", "avg_daily_trips"])
    );
    assert_eq!(answer["results"][0]["values"], json!([1001, 1002, 4242]));
    assert_eq!(
        statuses(&answer["results"][1]),
        ["PRESENT", "PRESENT", "NOT_FOUND"]
    );
    assert!(answer["results"][2]["values"][0].is_i64(), "{answer}");
    assert!(answer["results"][1]["values"][2].is_null());
    let newest = answer["results"][1]["event_timestamps"][0]
        .as_str()
        .unwrap();
    assert!(
        newest >= rfc3339(this_hour() - Duration::hours(1)).as_str(),
        "the latest hourly row is served: {newest}"
    );

    // A feature service across two entity kinds, with full names.
    let body = json!({"feature_service": "ride_ranking", "full_feature_names": true,
        "entities": {"driver_id": [1001, 1003], "customer_id": ["C00001", "C00009"]}});
    let (status, answer) = post(&client, &url, &body).await;
    assert_eq!(status, 200, "{answer}");
    let names: Vec<&str> = answer["metadata"]["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        &names[..3],
        ["driver_id", "customer_id", "driver_hourly_stats__conv_rate"]
    );
    let balance = names
        .iter()
        .position(|n| *n == "customer_profile__current_balance")
        .unwrap();
    assert_eq!(
        statuses(&answer["results"][balance]),
        ["PRESENT", "NOT_FOUND"]
    );

    // Materialization over HTTP.
    let window = json!({"start_ts": rfc3339(this_hour() - Duration::days(3)), "end_ts": rfc3339(this_hour() + Duration::hours(1))});
    let (status, runs) = post(&client, &format!("{}/materialize", server.url), &window).await;
    assert_eq!(status, 200, "{runs}");
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .all(|r| r["online"]["written"].as_u64().unwrap() > 0),
        "{runs}"
    );
    let (status, _) = post(
        &client,
        &format!("{}/materialize-incremental", server.url),
        &json!({"end_ts": rfc3339(this_hour() + Duration::hours(1))}),
    )
    .await;
    assert_eq!(status, 200);

    // Bad requests: a JSON error with a 400, never a panic.
    let bad: Vec<(Value, &str)> = vec![
        (
            json!({"features": ["driver_hourly_stats:nope"], "entities": {"driver_id": [1001]}}),
            "has no feature `nope`",
        ),
        (
            json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"customer_id": ["C00001"]}}),
            "missing entity key `driver_id`",
        ),
        (
            json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": ["abc"]}}),
            "is not a valid int64",
        ),
        (
            json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1, 2, 3, 4, 5, 6]}}),
            "over the limit of 5",
        ),
        (
            json!({"features": ["driver_hourly_stats:conv_rate"], "feature_service": "driver_activity", "entities": {"driver_id": [1]}}),
            "exactly one of",
        ),
        (
            json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1]}, "extra": 1}),
            "unknown field",
        ),
    ];
    for (body, needle) in bad {
        let (status, answer) = post(&client, &url, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{body}: expected `{needle}` in {answer}"
        );
    }
    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"features\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON"),
        "{answer}"
    );
}

/// A Redis of this test's own, so it can be stopped and started.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: scripts/test.sh installs it");
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self {
                    port,
                    child: Some(child),
                };
            }
            std::thread::sleep(StdDuration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_and_started_under_the_server() {
    let port = free_port();
    let mut redis = Redis::start(port);
    let redis_url = format!("redis://127.0.0.1:{port}");
    let env = [("QUIVER_ONLINE_STORE_URL", redis_url.as_str())];
    let (_dir, repo) = applied_repo(&format!("online_redis_{}", std::process::id()));
    let server = start_server(&repo, &[], &env);
    let client = reqwest::Client::builder()
        .timeout(StdDuration::from_secs(30))
        .build()
        .unwrap();
    let lookup = json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001, 1002]}});
    let url = format!("{}/get-online-features", server.url);
    let window = json!({"start_ts": rfc3339(this_hour() - Duration::days(3)), "end_ts": rfc3339(this_hour() + Duration::hours(1))});

    let (status, runs) = post(&client, &format!("{}/materialize", server.url), &window).await;
    assert_eq!(status, 200, "{runs}");
    let (status, answer) = post(&client, &url, &lookup).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(statuses(&answer["results"][1]), ["PRESENT", "PRESENT"]);

    redis.stop();
    let (status, answer) = post(&client, &url, &lookup).await;
    assert_eq!(
        status, 503,
        "lookups fail clearly while Redis is down: {answer}"
    );
    assert_eq!(answer["error"]["code"], "unavailable", "{answer}");

    // Redis comes back (empty: it keeps nothing on disk); the same server recovers.
    let _redis = Redis::start(redis.port);
    let mut recovered = None;
    for _ in 0..50 {
        let (status, answer) = post(&client, &url, &lookup).await;
        if status == 200 {
            recovered = Some(answer);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    let answer = recovered.expect("the server answers again once Redis is back");
    assert_eq!(
        statuses(&answer["results"][1]),
        ["NOT_FOUND", "NOT_FOUND"],
        "the restarted Redis is empty"
    );
    let (status, runs) = post(&client, &format!("{}/materialize", server.url), &window).await;
    assert_eq!(status, 200, "{runs}");
    let (_, answer) = post(&client, &url, &lookup).await;
    assert_eq!(statuses(&answer["results"][1]), ["PRESENT", "PRESENT"]);
}

/// The registry (Postgres) goes away under a running server: lookups go on from
/// the cached definitions, `apply` fails cleanly with the "unavailable" code,
/// and both work again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_outage_keeps_serving_from_the_cache() {
    let db = quiver_testkit::temp_postgres_database("registry_outage").await;
    let (target, _) = quiver_testkit::split_redis_url(&db.url, "x");
    let proxy = quiver_testkit::TcpProxy::start(target).await;
    let (_, registry) =
        quiver_testkit::split_redis_url(&db.url, &format!("127.0.0.1:{}", proxy.port()));
    let (_dir, repo) = applied_repo("registry_outage");
    let with_registry = |args: &[&str]| {
        let mut all = vec!["--registry", registry.as_str()];
        all.extend_from_slice(args);
        Command::new(env!("CARGO_BIN_EXE_quiver"))
            .arg("--repo")
            .arg(&repo)
            .args(all)
            .output()
            .unwrap()
    };
    assert!(with_registry(&["apply"]).status.success());
    materialize_recent(&repo, &[]);
    let server = start_server(&repo, &["--registry", &registry], &[]);
    let client = reqwest::Client::new();
    let url = format!("{}/get-online-features", server.url);
    let body =
        json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}});
    assert_eq!(post(&client, &url, &body).await.0, 200);

    proxy.stop();
    let (status, answer) = post(&client, &url, &body).await;
    assert_eq!(status, 200, "served from the cached definitions: {answer}");
    assert_eq!(statuses(&answer["results"][1]), ["PRESENT"]);
    let failed = with_registry(&["apply"]);
    assert_eq!(failed.status.code(), Some(3), "unavailable");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");

    proxy.restart().await;
    assert!(with_registry(&["apply"]).status.success());
    assert_eq!(post(&client, &url, &body).await.0, 200);
}

/// `Accept: application/vnd.apache.arrow.stream` answers the same lookup as one
/// typed table: entity columns, then per feature its value, status and event time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrow_answer_holds_what_the_json_answer_holds() {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Float32Type, Int64Type, TimestampMicrosecondType};

    let (_dir, repo) = applied_repo("online_arrow");
    materialize_recent(&repo, &[]);
    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    let url = format!("{}/get-online-features", server.url);
    let body = json!({
        "features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
        "entities": {"driver_id": [1001, "1002", 4242], "request_id": ["a", "b", null]},
    });
    let (status, answer) = post(&client, &url, &body).await;
    assert_eq!(status, 200, "{answer}");

    let response = client
        .post(&url)
        .header("accept", "application/vnd.apache.arrow.stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = response.bytes().await.unwrap();
    let batches: Vec<_> =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let table = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let names: Vec<&str> = table
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(
        names,
        [
            "driver_id",
            "request_id",
            "conv_rate",
            "conv_rate__status",
            "conv_rate__event_timestamp",
            "avg_daily_trips",
            "avg_daily_trips__status",
            "avg_daily_trips__event_timestamp",
        ]
    );
    assert_eq!(table.num_rows(), 3);
    // The join key in its declared type, as JSON echoes it; other columns as text.
    let keys = table.column(0).as_primitive::<Int64Type>();
    assert_eq!(keys.values().to_vec(), [1001, 1002, 4242]);
    let request_ids = table.column(1).as_string::<i32>();
    assert_eq!(request_ids.value(1), "b");
    assert!(request_ids.is_null(2));

    let conv = table.column(2).as_primitive::<Float32Type>();
    let trips = table.column(5).as_primitive::<Int64Type>();
    let statuses = table.column(3).as_string::<i32>();
    let times = table.column(4).as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        table.column(4).data_type(),
        &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()))
    );
    for row in 0..3 {
        let json_conv = &answer["results"][2]["values"][row];
        match json_conv.as_f64() {
            Some(v) => assert_eq!(f64::from(conv.value(row)) as f32, v as f32),
            None => assert!(conv.is_null(row)),
        }
        match answer["results"][3]["values"][row].as_i64() {
            Some(v) => assert_eq!(trips.value(row), v),
            None => assert!(trips.is_null(row)),
        }
        assert_eq!(statuses.value(row), answer["results"][2]["statuses"][row]);
        let json_time = answer["results"][2]["event_timestamps"][row]
            .as_str()
            .unwrap();
        if statuses.value(row) == "NOT_FOUND" {
            assert!(times.is_null(row));
        } else {
            let at = chrono::DateTime::parse_from_rfc3339(json_time).unwrap();
            assert_eq!(times.value(row), at.timestamp_micros());
        }
    }
    assert_eq!(statuses.value(2), "NOT_FOUND");

    // A format the server does not write is a 406 with a message.
    let response = client
        .post(&url)
        .header("accept", "text/csv")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 406);
}
