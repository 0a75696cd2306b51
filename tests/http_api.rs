//! End to end over HTTP: `quiver serve` (the real binary) answering
//! `POST /get-historical-features` in every format, and its error responses.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Float32Type;
use chrono::{Duration, DurationRound, Utc};
use serde_json::{Value, json};

const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";
const PARQUET: &str = "application/vnd.apache.parquet";

mod common;

use common::{Server, applied_repo, materialize_recent, start_server};

/// An applied, materialized example repo and a server on a free port.
fn serve() -> (tempfile::TempDir, PathBuf, Server) {
    let (dir, repo) = applied_repo("http_offline");
    materialize_recent(&repo, &[]);
    let server = start_server(
        &repo,
        &["--max-entity-rows", "100", "--max-body-bytes", "65536"],
        &[],
    );
    (dir, repo, server)
}

fn now_text() -> String {
    Utc::now()
        .duration_trunc(Duration::hours(1))
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn request_body() -> Value {
    json!({
        "features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
        "entities": {"driver_id": [1001, 1002, 9999, 1001], "event_timestamp": [now_text(), now_text(), now_text(), "2000-01-01T00:00:00Z"], "label": ["a", "b", "c", "d"]},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_sets_in_every_format() {
    let (_dir, _repo, server) = serve();
    let client = reqwest::Client::new();
    let endpoint = format!("{}/get-historical-features", server.url);
    assert_eq!(
        client
            .get(format!("{}/health", server.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // JSON in, JSON out.
    let response = client
        .post(&endpoint)
        .json(&request_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let rows: Vec<Value> = response.json().await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[0]["conv_rate"].is_number() || rows[0].get("conv_rate").is_none(),
        "{rows:?}"
    );
    assert!(
        rows[2].get("conv_rate").is_none_or(Value::is_null),
        "an unknown driver has no values: {:?}",
        rows[2]
    );
    assert!(
        rows[3].get("conv_rate").is_none_or(Value::is_null),
        "a time before any data has no values: {:?}",
        rows[3]
    );
    assert_eq!(
        rows.iter()
            .map(|r| r["label"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );

    // JSON in, Arrow IPC stream out.
    let response = client
        .post(&endpoint)
        .header("accept", ARROW_STREAM)
        .json(&request_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], ARROW_STREAM);
    let bytes = response.bytes().await.unwrap();
    let arrow = quiver_offline::formats::read_table(
        quiver_offline::formats::TableFormat::ArrowStream,
        bytes,
    )
    .unwrap();
    assert_eq!(arrow.num_rows(), 4);
    let conv = arrow
        .column_by_name("conv_rate")
        .unwrap()
        .as_primitive::<Float32Type>();
    assert_eq!(
        rows[0]["conv_rate"].as_f64().map(|v| v as f32),
        (!arrow::array::Array::is_null(conv, 0)).then(|| conv.value(0))
    );

    // JSON in, Parquet out.
    let response = client
        .post(&endpoint)
        .header("accept", PARQUET)
        .json(&request_body())
        .send()
        .await
        .unwrap();
    let parquet = quiver_offline::formats::read_table(
        quiver_offline::formats::TableFormat::Parquet,
        response.bytes().await.unwrap(),
    )
    .unwrap();
    assert_eq!(parquet.num_rows(), 4);
    assert_eq!(
        parquet.column_by_name("conv_rate").unwrap().as_ref(),
        arrow.column_by_name("conv_rate").unwrap().as_ref()
    );

    // Entity rows uploaded as Parquet and as Arrow IPC, features in the query string.
    for (content_type, format) in [
        (PARQUET, quiver_offline::formats::TableFormat::Parquet),
        (
            ARROW_STREAM,
            quiver_offline::formats::TableFormat::ArrowStream,
        ),
    ] {
        let entities = arrow.project(&[0, 1, 2]).unwrap();
        let upload = encode(format, &entities);
        let response = client
            .post(format!("{endpoint}?features=driver_hourly_stats:conv_rate,driver_hourly_stats:avg_daily_trips&full_feature_names=true"))
            .header("content-type", content_type)
            .header("accept", ARROW_STREAM)
            .body(upload)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{content_type}: {}",
            response.text().await.unwrap()
        );
        let back = quiver_offline::formats::read_table(
            quiver_offline::formats::TableFormat::ArrowStream,
            response.bytes().await.unwrap(),
        )
        .unwrap();
        assert_eq!(
            back.column_by_name("driver_hourly_stats__conv_rate")
                .unwrap()
                .as_ref(),
            conv as &dyn arrow::array::Array
        );
    }

    // A feature service, saved as a dataset.
    let mut body = request_body();
    body.as_object_mut().unwrap().remove("features");
    body["feature_service"] = json!("driver_activity");
    body["save_as"] = json!("from_http");
    let response = client.post(&endpoint).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Vec<Value>>().await.unwrap().len(), 4);
    let again = client.post(&endpoint).json(&body).send().await.unwrap();
    assert_eq!(again.status(), 409, "a dataset name is saved once");
}

fn encode(format: quiver_offline::formats::TableFormat, batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    quiver_offline::formats::write_table(format, batch, &mut out, 1024).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors() {
    let (_dir, _repo, server) = serve();
    let client = reqwest::Client::new();
    let endpoint = format!("{}/get-historical-features", server.url);
    let error = |status: u16, needle: &'static str| {
        move |(code, body): (u16, Value)| {
            assert_eq!(code, status, "{body}");
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert!(body["error"]["code"].is_string(), "{body}");
            assert!(
                message.contains(needle),
                "expected `{needle}` in `{message}`"
            );
        }
    };
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };

    error(400, "malformed JSON")(
        send(
            client
                .post(&endpoint)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await,
    );
    let mut unknown = request_body();
    unknown["features"] = json!(["driver_hourly_stats:nope"]);
    error(400, "has no feature `nope`")(send(client.post(&endpoint).json(&unknown)).await);
    let mut no_keys = request_body();
    no_keys["entities"]
        .as_object_mut()
        .unwrap()
        .remove("driver_id");
    error(400, "lacks join key column(s) driver_id")(
        send(client.post(&endpoint).json(&no_keys)).await,
    );
    let mut bad_time = request_body();
    bad_time["entities"]["event_timestamp"] = json!(["soon", "soon", "soon", "soon"]);
    error(400, "not an RFC 3339 timestamp")(send(client.post(&endpoint).json(&bad_time)).await);
    let mut empty = request_body();
    empty["entities"] = json!({"driver_id": [], "event_timestamp": []});
    error(400, "no rows")(send(client.post(&endpoint).json(&empty)).await);
    let mut too_many = request_body();
    too_many["entities"] =
        json!({"driver_id": vec![1001; 101], "event_timestamp": vec![now_text(); 101]});
    error(400, "over the limit of 100")(send(client.post(&endpoint).json(&too_many)).await);
    error(415, "not supported")(
        send(
            client
                .post(&endpoint)
                .header("content-type", "text/csv")
                .body("a,b"),
        )
        .await,
    );
    error(406, "cannot answer")(
        send(
            client
                .post(&endpoint)
                .header("accept", "text/html")
                .json(&request_body()),
        )
        .await,
    );
    // The errors axum answers by itself have the same shape.
    error(413, "length limit exceeded")(
        send(
            client
                .post(&endpoint)
                .header("content-type", "application/json")
                .body(vec![b' '; 70_000]),
        )
        .await,
    );
    error(404, "no such route")(send(client.get(format!("{}/nope", server.url))).await);
    let wrong_method = client.get(&endpoint).send().await.unwrap();
    assert_eq!(wrong_method.headers()["allow"], "POST");
    error(405, "")((
        wrong_method.status().as_u16(),
        wrong_method.json::<Value>().await.unwrap_or(Value::Null),
    ));
}
