//! Feast's HTTP dialect against the real server, request by request, without
//! Feast itself (tests/feast_client.rs drives Feast's client): the bodies
//! Feast's client and documented curl examples send, `/write-to-online-store`,
//! errors in Feast's body for Feast's client only, and the switches that make
//! online answers read as Feast's (`--expired-as-present`, `--float32-as-double`).

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, Utc};
use common::{applied_repo, materialize_recent, start_server, this_hour};
use serde_json::{Value, json};

async fn post(url: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// One driver's `conv_rate` and its status.
async fn conv_rate(base: &str, driver: i64) -> (Value, Value) {
    let (status, answer) = post(
        &format!("{base}/get-online-features"),
        &json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [driver]},
                "full_feature_names": false, "include_feature_view_version_metadata": false}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    (
        answer["results"][1]["values"][0].clone(),
        answer["results"][1]["statuses"][0].clone(),
    )
}

/// Naive ISO text, as Python's `datetime.isoformat()` writes a UTC time.
fn naive(t: chrono::DateTime<Utc>) -> String {
    t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feasts_requests_errors_and_answers() {
    let (_dir, repo) = applied_repo("feast_http");
    let server = start_server(&repo, &[], &[]);
    let base = server.url.clone();
    let write = format!("{base}/write-to-online-store");
    let now = Utc::now();

    // What Feast's remote online store sends: join keys and features by name,
    // naive times, `created` null or pandas' "NaT".
    let body = json!({
        "feature_view_name": "driver_hourly_stats",
        "df": {
            "driver_id": [9001, 9002, 9003],
            "conv_rate": [0.1219, 0.5, 0.25],
            "acc_rate": [0.5, 0.5, 0.5],
            "avg_daily_trips": [1, 2, 3],
            "event_timestamp": [naive(now), naive(now), naive(now - Duration::days(3))],
            "created": [null, "NaT", naive(now)],
        },
        "allow_registry_cache": false,
        "transform_on_write": true,
    });
    let (status, answer) = post(&write, &body, &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rows"], 3, "{answer}");
    assert_eq!(
        conv_rate(&base, 9001).await,
        (json!(0.1219), json!("PRESENT"))
    );
    assert_eq!(conv_rate(&base, 9002).await.0, json!(0.5));
    // Older than the view's 2-day TTL: quiver's answer.
    assert_eq!(
        conv_rate(&base, 9003).await,
        (Value::Null, json!("OUTSIDE_MAX_AGE"))
    );
    // An older write never replaces a newer value.
    let mut older = body.clone();
    older["df"] = json!({"driver_id": [9001], "conv_rate": [0.9], "acc_rate": [0.5],
        "avg_daily_trips": [1], "event_timestamp": [naive(now - Duration::hours(1))]});
    let (status, answer) = post(&write, &older, &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["views"][0][1]["online_dropped_older"], 1, "{answer}");
    assert_eq!(conv_rate(&base, 9001).await.0, json!(0.1219));

    // Entity keys come back in the key's type; every entity column is echoed.
    let (status, answer) = post(
        &format!("{base}/get-online-features"),
        &json!({"features": ["driver_hourly_stats:conv_rate"],
                "entities": {"driver_id": ["9001", 9002.0], "request_id": ["a", "b"]}}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["metadata"]["feature_names"],
        json!(["driver_id", "request_id", "conv_rate"])
    );
    assert_eq!(answer["results"][0]["values"], json!([9001, 9002]));
    assert_eq!(answer["results"][1]["values"], json!(["a", "b"]));

    // Bad rows: a 400 naming the row and field, nothing written.
    let mut bad = body.clone();
    bad["df"]["event_timestamp"] = json!(["soon", naive(now), naive(now)]);
    let (status, answer) = post(&write, &bad, &[]).await;
    assert_eq!(status, 400, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("row 0") && message.contains("`event_timestamp`"),
        "{message}"
    );
    let mut bad = body.clone();
    bad["extra"] = json!(1);
    let (status, answer) = post(&write, &bad, &[]).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `extra`")
    );

    // Errors: quiver's body by default, Feast's (a JSON string) for its client.
    let unknown = json!({"feature_view_name": "no_view", "df": {"driver_id": [1]}});
    let (status, answer) = post(&write, &unknown, &[]).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    for headers in [
        &[("user-agent", "python-requests/2.32.3")][..],
        &[("x-quiver-error-format", "feast")][..],
    ] {
        let (status, answer) = post(&write, &unknown, headers).await;
        assert_eq!(status, 404);
        let detail: Value = serde_json::from_str(answer.as_str().expect("a JSON string")).unwrap();
        assert_eq!(detail["module"], "feast.errors");
        assert_eq!(detail["class"], "FeatureViewNotFoundException");
        assert_eq!(detail["error"]["code"], "not_found");
    }
    let quiver_wanted = [
        ("user-agent", "python-requests/2.32.3"),
        ("x-quiver-error-format", "quiver"),
    ];
    let (_, answer) = post(&write, &unknown, &quiver_wanted).await;
    assert_eq!(answer["error"]["code"], "not_found");

    // Materialization as Feast's client asks for it.
    materialize_recent(&repo, &[]);
    let materialize = format!("{base}/materialize");
    let start = naive(this_hour() - Duration::days(3));
    let end = naive(this_hour() + Duration::hours(1));
    for (query, body) in [
        (
            "",
            json!({"start_ts": start, "end_ts": end, "feature_views": null,
            "disable_event_timestamp": false, "full_feature_names": false}),
        ),
        (
            "?async=true",
            json!({"feature_views": ["customer_profile"], "disable_event_timestamp": true,
            "full_feature_names": false, "version": null}),
        ),
    ] {
        let (status, answer) = post(&format!("{materialize}{query}"), &body, &[]).await;
        assert_eq!(status, 200, "{body}: {answer}");
    }
    let (status, answer) = post(
        &format!("{base}/materialize-incremental"),
        &json!({"end_ts": end, "feature_views": null, "full_feature_names": false}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(
        &materialize,
        &json!({"end_ts": end, "start_ts": start, "version": "v2"}),
        &[],
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no feature view versions")
    );
    drop(server);

    // Feast's answers, switched on: the expired value PRESENT, float32 widened.
    let server = start_server(&repo, &["--expired-as-present", "--float32-as-double"], &[]);
    assert_eq!(
        conv_rate(&server.url, 9003).await,
        (json!(f64::from(0.25f32)), json!("PRESENT"))
    );
    assert_eq!(
        conv_rate(&server.url, 9001).await.0,
        json!(f64::from(0.1219f32))
    );
}
