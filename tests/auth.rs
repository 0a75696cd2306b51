//! API tokens end to end: `quiver token`, the `auth:` section, 401/403 per
//! scope, and `serve` refusing an open non-loopback address.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{admit_tokens, applied_repo, new_token, start_server};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_scopes() {
    let (_dir, repo) = applied_repo("auth_tokens");
    let reader = new_token(&repo, "model-server", "read-online");
    let writer = new_token(&repo, "pipeline", "write,read-offline");
    assert_ne!(reader["token"], writer["token"]);
    admit_tokens(&repo, &[&reader, &writer]);
    let server = start_server(&repo, &[], &[]);
    let client = reqwest::Client::new();
    let call = async |route: &str, token: Option<&Value>, body: Value| {
        let mut request = client.post(format!("{}{route}", server.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token["token"].as_str().unwrap());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let lookup =
        json!({"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}});

    let health = client
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "liveness needs no token");
    let (status, body) = call("/get-online-features", None, lookup.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let forged = json!({"token": "qv_not-a-token"});
    assert_eq!(
        call("/get-online-features", Some(&forged), lookup.clone())
            .await
            .0,
        401
    );
    assert_eq!(
        call("/get-online-features", Some(&reader), lookup.clone())
            .await
            .0,
        200
    );
    let (status, body) = call("/get-online-features", Some(&writer), lookup.clone()).await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-online"),
        "{body}"
    );
    let push = json!({"push_source_name": "driver_stats_push", "df": {"driver_id": [1]}});
    assert_eq!(call("/push", Some(&reader), push.clone()).await.0, 403);
    // Authorized: the push itself is then judged (no view reads this source: 400).
    assert_eq!(call("/push", Some(&writer), push).await.0, 400);
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .bearer_auth(reader["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200, "any valid token reads the metrics");
}

#[test]
fn an_open_server_stays_on_loopback_unless_told() {
    let (_dir, repo) = applied_repo("auth_open");
    let out = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args([
            "--repo",
            repo.to_str().unwrap(),
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ])
        .env_remove("QUIVER_REGISTRY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("without authentication") && stderr.contains("--insecure"),
        "{stderr}"
    );
    let server = start_server(&repo, &["--host", "0.0.0.0", "--insecure"], &[]);
    assert!(server.url.contains("0.0.0.0"), "{}", server.url);
}
