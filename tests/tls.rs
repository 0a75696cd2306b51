//! HTTPS end to end: `quiver serve` with quiver.yaml's `tls` section or the
//! `--tls-cert`/`--tls-key` flags, a CA made at test time, lookups over https,
//! failed handshakes that leave the server running, graceful shutdown, and bad
//! files reported (by path, never by content) before anything listens.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use common::pki::{Pki, append_config, make_pki, write_certs};
use common::{applied_repo, materialize_recent, start_server, terminate};
use rcgen::KeyPair;
use serde_json::{Value, json};

fn trusting(pki: &Pki) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// `quiver serve ARGS` that is expected to exit by itself.
fn serve_output(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args([
            "--repo",
            repo.to_str().unwrap(),
            "serve",
            "--port",
            "0",
            "--flight-port",
            "0",
        ])
        .args(args)
        .env_remove("QUIVER_REGISTRY")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_from_the_tls_section() {
    let (_dir, repo) = applied_repo("tls_serve");
    materialize_recent(&repo, &[]);
    let pki = make_pki();
    write_certs(&repo, &pki);
    // Relative to the repo, not to the server's working directory.
    append_config(
        &repo,
        "tls:\n  cert: certs/server.pem\n  key: \"${QUIVER_TEST_TLS_KEY:-certs/server.key}\"\n",
    );
    let server = start_server(&repo, &[], &[]);
    let port = server
        .url
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| panic!("not an https address: {}", server.url))
        .to_string();
    let client = trusting(&pki);

    let health = client
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.version(), reqwest::Version::HTTP_11);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );

    let lookup = json!({
        "features": ["driver_hourly_stats:conv_rate"],
        "entities": {"driver_id": [1001, 4242]},
    });
    let response = client
        .post(format!("{}/get-online-features", server.url))
        .json(&lookup)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["metadata"]["feature_names"],
        json!(["driver_id", "conv_rate"])
    );
    assert_eq!(
        answer["results"][1]["statuses"],
        json!(["PRESENT", "NOT_FOUND"]),
        "{answer}"
    );

    // Clients that fail the handshake leave the server serving the others:
    // plain http, a client that does not trust the CA, and bytes that are no TLS.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(plain.is_err(), "plain http to the TLS port: {plain:?}");
    let untrusting = reqwest::Client::new()
        .get(format!("{}/health", server.url))
        .send()
        .await;
    assert!(untrusting.is_err(), "an unknown CA: {untrusting:?}");
    {
        let mut raw = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        raw.write_all(b"\x16\x03\x01\xff\xffnot a client hello")
            .unwrap();
    }
    for _ in 0..3 {
        let health = client
            .get(format!("https://localhost:{port}/health"))
            .send()
            .await;
        match health {
            Ok(health) => assert_eq!(health.status(), 200),
            // localhost may resolve to ::1 first, where nothing listens.
            Err(e) if e.is_connect() => {}
            Err(e) => panic!("after failed handshakes: {e}"),
        }
        let health = client
            .get(format!("{}/health", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }
    // The client keeps its connection open: shutdown must still drain it.
    terminate(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_override_the_file_and_bad_files_are_named() {
    let (_dir, repo) = applied_repo("tls_files");
    let pki = make_pki();
    let (cert, key) = write_certs(&repo, &pki);
    append_config(
        &repo,
        "tls: { cert: certs/server.pem, key: certs/missing.key }\n",
    );

    let fails = |args: &[&str], code: i32| -> String {
        let out = serve_output(&repo, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("quiver: serving on"),
            "{args:?} listened: {stderr}"
        );
        stderr
    };
    let missing = repo.join("certs/missing.key");
    let stderr = fails(&[], 1);
    assert!(
        stderr.lines().any(|l| l.starts_with("error: ")
            && l.contains(&missing.display().to_string())
            && l.contains("private key")),
        "{stderr}"
    );

    // Both flags or neither.
    let stderr = fails(&["--tls-cert", cert.to_str().unwrap()], 2);
    assert!(stderr.contains("--tls-key"), "{stderr}");

    // Broken files: named, their contents never shown.
    let broken = repo.join("certs/broken.key");
    std::fs::write(
        &broken,
        "-----BEGIN PRIVATE KEY-----\nSECRET!MATERIAL\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let args = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        broken.to_str().unwrap(),
    ];
    let stderr = fails(&args, 1);
    assert!(
        stderr.contains(&broken.display().to_string()) && !stderr.contains("SECRET"),
        "{stderr}"
    );
    let other = repo.join("certs/other.key");
    std::fs::write(&other, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let args = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        other.to_str().unwrap(),
    ];
    let stderr = fails(&args, 1);
    assert!(
        stderr.contains("cannot be used together") && stderr.contains("other.key"),
        "{stderr}"
    );
    let args = [
        "--tls-cert",
        key.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let stderr = fails(&args, 1);
    assert!(
        stderr.contains("no PEM certificate") && stderr.contains("server.key"),
        "{stderr}"
    );

    // Good flags win over the file's missing key.
    let args = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let server = start_server(&repo, &args, &[]);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let health = trusting(&pki)
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    terminate(server);
}
