//! `quiver serve`: the HTTP API, and with `--ingest` the Kafka ingest beside it.

use std::net::SocketAddr;

use quiver_server::{Addresses, ConnectionLimits, Limits, Tls};
use quiver_store::{FeatureStore, IngestStats};
use tokio::sync::watch;

use crate::args::{GlobalArgs, ServeArgs};
use crate::commands::ingest;
use crate::context;
use crate::error::{CliError, CliResult};

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> CliResult {
    let store = context::store(global)
        .await?
        .with_stream_window(args.ingest_args.stats_window);
    if store.config.auth.is_none() && !args.host.is_loopback() && !args.insecure {
        return Err(CliError::User(format!(
            "refusing to serve on {} without authentication: configure `auth.tokens` in quiver.yaml \
             (`quiver token` makes one), or pass --insecure",
            args.host
        )));
    }
    let tls = tls(&store, args)?;
    let limits = Limits {
        max_entity_rows: args.max_entity_rows,
        max_online_entities: args.max_online_entities,
        max_push_rows: args.max_push_rows,
        max_body_bytes: args.max_body_bytes,
        connections: ConnectionLimits {
            max_connections: args.max_connections as usize,
            header_timeout: args.header_timeout,
            body_timeout: args.body_timeout,
            idle_timeout: args.idle_timeout,
        },
        answers: quiver_store::FeastAnswers {
            expired_as_present: args.expired_as_present,
            float32_as_double: args.float32_as_double,
        },
    };
    let addresses = Addresses {
        http: SocketAddr::new(args.host, args.port),
        flight: (!args.no_flight).then(|| SocketAddr::new(args.host, args.flight_port)),
    };
    let serve_error = |e: std::io::Error| {
        CliError::Unavailable(format!(
            "cannot serve on {} (HTTP port {}, Arrow Flight port {}): {e}",
            args.host, args.port, args.flight_port
        ))
    };
    if !args.ingest {
        return quiver_server::serve(
            store,
            addresses,
            limits,
            None,
            tls,
            quiver_server::shutdown_signal(),
        )
        .await
        .map_err(serve_error);
    }
    // One signal stops both: the server drains, the ingest commits its batch.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = std::sync::Arc::new(stop_tx);
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        quiver_server::shutdown_signal().await;
        let _ = on_signal.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let stats = IngestStats::default();
    let options = ingest::options(&store, &args.ingest_args);
    let worker_stop = stopped(stop_rx.clone());
    let worker_stats = stats.clone();
    let worker_store = store.clone();
    let worker_stop_tx = stop_tx.clone();
    let worker = async move {
        let result = ingest::run_worker(worker_store, options, worker_stats, worker_stop).await;
        // An ingest that cannot run takes the server down with it, loudly.
        let _ = worker_stop_tx.send(true);
        result
    };
    let server = async move {
        let result =
            quiver_server::serve(store, addresses, limits, Some(stats), tls, stopped(stop_rx))
                .await;
        // A server that cannot listen stops the ingest too, and says why.
        let _ = stop_tx.send(true);
        result
    };
    let (worker, server) = tokio::join!(worker, server);
    server.map_err(serve_error)?;
    worker
}

/// `--tls-cert`/`--tls-key` (relative to the working directory), else
/// quiver.yaml's `tls` (relative to the repo); read now, so that a bad file is
/// reported before anything listens.
fn tls(store: &FeatureStore, args: &ServeArgs) -> CliResult<Option<Tls>> {
    let (cert, key) = match (&args.tls_cert, &args.tls_key, &store.config.tls) {
        (Some(cert), Some(key), _) => (cert.clone(), key.clone()),
        (None, None, Some(tls)) => (
            store.repo_root.join(&tls.cert),
            store.repo_root.join(&tls.key),
        ),
        (None, None, None) => return Ok(None),
        _ => {
            return Err(CliError::User(
                "give both --tls-cert and --tls-key, or neither".into(),
            ));
        }
    };
    Tls::from_pem_files(&cert, &key)
        .map(Some)
        .map_err(|e| CliError::User(e.to_string()))
}
