//! quiver's own Arrow Flight call, driven by `pyarrow.flight` (from the Feast
//! venv scripts/test.sh creates): `do_exchange`, `do_get` with the rows in the
//! ticket, `get_flight_info`, over TLS with the HTTP API's tokens and scopes,
//! compared with `quiver historical` on the same rows. Feast's own protocol
//! over Flight is in tests/feast_client.rs. The calls are in
//! tests/feast/flight_native.py.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use chrono::Duration;
use common::pki::{append_config, make_pki, write_certs};
use common::{
    admit_tokens, applied_repo, feast_venv, historical, materialize_recent, new_token, rfc3339,
    start_server, this_hour,
};
use serde_json::json;

#[test]
fn the_native_flight_call_over_tls_with_tokens() {
    let venv = feast_venv();
    let (dir, repo) = applied_repo("flight_native");
    materialize_recent(&repo, &[]);

    // Entity rows: known drivers at several times, an unknown one, a repeat.
    let now = this_hour();
    let mut csv = String::from("driver_id,event_timestamp\n");
    for driver in [1001, 1002, 1003, 99999, 1001] {
        for hours in [1, 7, 30] {
            csv.push_str(&format!(
                "{driver},{}\n",
                rfc3339(now - Duration::hours(hours))
            ));
        }
    }
    let entities = dir.path().join("entities.csv");
    std::fs::write(&entities, csv).unwrap();
    let expected = dir.path().join("expected.parquet");
    historical(
        &repo,
        &entities,
        "driver_hourly_stats:conv_rate,driver_hourly_stats:avg_daily_trips",
        &expected,
        &[],
    );

    let offline = new_token(&repo, "trainer", "read-offline");
    let online = new_token(&repo, "model-server", "read-online");
    let writer = new_token(&repo, "pipeline", "write");
    admit_tokens(&repo, &[&offline, &online, &writer]);
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        json!({"offline": offline["token"], "online": online["token"], "writer": writer["token"]})
            .to_string(),
    )
    .unwrap();
    let pki = make_pki();
    write_certs(&repo, &pki);
    append_config(
        &repo,
        "tls:\n  cert: certs/server.pem\n  key: certs/server.key\n",
    );
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca).unwrap();

    let server = start_server(&repo, &[], &[]);
    let flight = server
        .flight
        .as_deref()
        .expect("quiver serve runs Arrow Flight");
    assert!(flight.starts_with("grpc+tls://"), "{flight}");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/feast/flight_native.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(&script)
        .args(["--flight", flight, "--ca"])
        .arg(&ca)
        .arg("--tokens")
        .arg(&tokens)
        .arg("--entities")
        .arg(&entities)
        .arg("--expected")
        .arg(&expected)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pyarrow.flight against quiver failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.trim_end().ends_with(" checks"), "{stdout}");
}
