//! `/metrics`, `/ready` and request ids, end to end against the real binary
//! (and a real Redis that goes away under it).

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{applied_repo, rfc3339, start_server, this_hour};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_request_ids_and_readiness() {
    let (_dir, repo) = applied_repo("observe_embedded");
    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    let doc: Value = client
        .get(format!("{}/openapi.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["paths"]["/get-online-features"]["post"].is_object(),
        "{doc}"
    );

    let ready = client
        .get(format!("{}/ready", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body["checks"],
        json!({"registry": "ok", "online_store": "ok"})
    );

    // A caller's request id comes back; without one, the server makes one.
    let lookup =
        json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}});
    let url = format!("{}/get-online-features", server.url);
    let answer = client
        .post(&url)
        .header("x-request-id", "test-123")
        .json(&lookup)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "test-123");
    let answer = client.post(&url).json(&lookup).send().await.unwrap();
    let generated = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!generated.is_empty());
    let bad = client.post(&url).body("{").send().await.unwrap();
    assert_eq!(bad.status(), 400);

    let now = this_hour();
    let materialize = json!({"start_ts": rfc3339(now - Duration::days(2)), "end_ts": rfc3339(now + Duration::hours(1)),
        "feature_views": ["driver_hourly_stats"]});
    let reports: Value = client
        .post(format!("{}/materialize", server.url))
        .json(&materialize)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = reports[0]["rows"].as_u64().unwrap();

    let metrics = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = metrics.text().await.unwrap();
    for needle in [
        r#"quiver_http_request_duration_seconds_count{route="/get-online-features",method="POST",status="200"} 2"#,
        r#"quiver_http_request_duration_seconds_count{route="/get-online-features",method="POST",status="400"} 1"#,
        r#"quiver_http_request_duration_seconds_count{route="/ready",method="GET",status="200"} 1"#,
        &format!(r#"quiver_materialized_rows_total{{view="driver_hourly_stats"}} {rows}"#),
    ] {
        assert!(text.contains(needle), "`{needle}` in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_redis_is_down() {
    let redis = quiver_testkit::redis_url();
    let (target, _) = quiver_testkit::split_redis_url(&redis, "x");
    let proxy = quiver_testkit::TcpProxy::start(target).await;
    let (_, through_proxy) =
        quiver_testkit::split_redis_url(&redis, &format!("127.0.0.1:{}", proxy.port()));
    let (_dir, repo) = applied_repo(&quiver_testkit::unique_name("observe_redis"));
    let env = [("QUIVER_ONLINE_STORE_URL", through_proxy.as_str())];
    let server = start_server(&repo, &[], &env);
    let client = reqwest::Client::new();
    let ready = |client: reqwest::Client, url: String| async move {
        let response = client.get(format!("{url}/ready")).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    assert_eq!(ready(client.clone(), server.url.clone()).await.0, 200);
    proxy.stop();
    let (status, body) = ready(client.clone(), server.url.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["registry"], "ok");
    assert_ne!(body["checks"]["online_store"], "ok");
    proxy.restart().await;
    let started = std::time::Instant::now();
    loop {
        let (status, body) = ready(client.clone(), server.url.clone()).await;
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
