//! `quiver ingest`: the Kafka ingest in the foreground until SIGINT/SIGTERM.

use quiver_core::KafkaConfig;
use quiver_store::{FeatureStore, IngestStats};
use quiver_stream::IngestOptions;

use crate::args::{GlobalArgs, IngestArgs};
use crate::context;
use crate::error::{CliError, CliResult};

pub async fn run(global: &GlobalArgs, args: &IngestArgs) -> CliResult {
    let store = context::store(global)
        .await?
        .with_stream_window(args.stats_window);
    let options = options(&store, args);
    let stats = IngestStats::default();
    run_worker(
        store,
        options,
        stats.clone(),
        quiver_server::shutdown_signal(),
    )
    .await?;
    let summary = stats.snapshot();
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        let rejected: u64 = summary.rejected.values().sum();
        println!(
            "ingest stopped: {} messages, {} rows online ({} older dropped), {} rows offline, {} dead-lettered",
            summary.messages,
            summary.rows.online,
            summary.rows.online_dropped_older,
            summary.rows.offline,
            rejected
        );
    }
    Ok(())
}

/// The ingest options from quiver.yaml and the flags.
pub fn options(store: &FeatureStore, args: &IngestArgs) -> IngestOptions {
    let mut kafka = store
        .config
        .kafka
        .clone()
        // No `kafka:` section: the defaults, the cluster coming from the flag or the sources.
        .unwrap_or_else(|| KafkaConfig::new(store.project(), ""));
    if let Some(servers) = &args.bootstrap_servers {
        kafka.bootstrap_servers = servers.clone();
    }
    if let Some(group) = &args.group {
        kafka.group_id = group.clone();
    }
    if args.no_offline {
        kafka.offline = false;
    }
    IngestOptions {
        kafka,
        views: args.views.clone(),
        log_every: args.log_every,
    }
}

pub async fn run_worker(
    store: FeatureStore,
    options: IngestOptions,
    stats: IngestStats,
    stop: impl Future<Output = ()> + Send + 'static,
) -> CliResult {
    quiver_stream::run_ingest(store, options, stats, stop)
        .await
        .map_err(|e| match e {
            quiver_stream::StreamError::Config(message) => CliError::User(message),
            quiver_stream::StreamError::Store(e) => e.into(),
            quiver_stream::StreamError::Offline(e) => quiver_store::StoreError::from(e).into(),
            quiver_stream::StreamError::Internal(message) => CliError::Internal(message),
            quiver_stream::StreamError::Kafka(e) => CliError::Unavailable(format!("kafka: {e}")),
        })
}
