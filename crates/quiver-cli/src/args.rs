//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// quiver: a feature store with an offline (Parquet, DataFusion) and an online (Redis) tier.
#[derive(Debug, Parser)]
#[command(name = "quiver", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The feature repo (the directory holding quiver.yaml).
    #[arg(long, global = true, env = "QUIVER_REPO", default_value = ".")]
    pub repo: PathBuf,
    /// Use this registry instead of the one in quiver.yaml (sqlite://PATH or postgres://...).
    #[arg(long, global = true, env = "QUIVER_REGISTRY", hide_env_values = true)]
    pub registry: Option<String>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new feature repo with example definitions and generated sample data.
    Init(InitArgs),
    /// Show what `apply` would change in the registry, field by field; writes nothing.
    Plan,
    /// Validate the repo, check it against its sources and register it (one transaction).
    Apply,
    /// Remove every definition of the project from the registry (history is kept).
    Teardown,
    /// List the registered objects of one kind.
    List(ListArgs),
    /// Show one registered object: its definition, version and history.
    Describe(DescribeArgs),
    /// Copy source rows with event time in [START, END) into the offline store.
    Materialize(MaterializeArgs),
    /// Materialize each view from where its last run ended up to END.
    MaterializeIncremental(MaterializeIncrementalArgs),
    /// Build a point-in-time correct training set for the rows of an entity file.
    Historical(HistoricalArgs),
    /// Look up the latest feature values of a few entities in the online store.
    Online(OnlineArgs),
    /// Serve the HTTP API: training sets, online lookups, materialization, push.
    Serve(ServeArgs),
    /// Consume the views' Kafka stream sources into the online and offline stores.
    Ingest(IngestArgs),
    /// Make a new API token: prints it once, with the line for quiver.yaml's `auth.tokens`.
    Token(TokenArgs),
    /// Show the statistics of a view's features from its latest materialization.
    Stats(StatsArgs),
    /// Compare a view's features in a window with a baseline; exits 5 on drift.
    Drift(DriftArgs),
    /// What built a saved dataset, or what a view fed.
    Lineage(LineageArgs),
    /// Write a Feast project's definitions as quiver YAML, naming what cannot be converted.
    ImportFeast(ImportFeastArgs),
}

#[derive(Debug, Args)]
pub struct ImportFeastArgs {
    /// What `feast registry-dump` prints (a file, or `-` for standard input),
    /// or a Feast registry file (registry.db).
    #[arg(value_name = "REGISTRY")]
    pub input: PathBuf,
    /// Where to write the quiver definitions (default: --repo).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The Feast feature repo, where Feast's relative file paths start
    /// (default: the nearest directory holding feature_store.yaml at or
    /// above REGISTRY's, else REGISTRY's directory).
    #[arg(long)]
    pub feast_repo: Option<PathBuf>,
    /// The Feast project to import, when the registry file holds several.
    #[arg(long)]
    pub project: Option<String>,
    /// Overwrite the definition files a previous import wrote.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LineageArgs {
    /// A saved dataset's name, or a feature view's.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The feature view.
    #[arg(long)]
    pub view: String,
    /// What to compare with: START/END (RFC 3339) of the offline store, or a saved dataset's name.
    #[arg(long)]
    pub baseline: String,
    /// The window to judge: START/END (RFC 3339).
    #[arg(long)]
    pub current: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The feature view.
    pub view: String,
    /// The latest run whose window ends in (START, END] (RFC 3339) instead of the latest run.
    #[arg(long, num_args = 2, value_names = ["START", "END"])]
    pub window: Vec<String>,
    /// `batch`: statistics of materialization runs; `kafka` or `push`: of the
    /// windows of rows streamed in through the Kafka ingest or push.
    #[arg(long, default_value = "batch")]
    pub source: quiver_store::StatsSource,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Who will hold the token (shown in logs).
    #[arg(long)]
    pub name: String,
    /// What it may do: read-online, read-offline, write, admin (comma separated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<quiver_core::auth::Scope>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Only these views (default: every view with a Kafka stream source).
    #[arg(long, value_delimiter = ',')]
    pub views: Vec<String>,
    /// The Kafka cluster (overrides `kafka.bootstrap_servers` in quiver.yaml).
    #[arg(long, env = "QUIVER_KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: Option<String>,
    /// The consumer group (overrides `kafka.group_id`; default quiver-PROJECT).
    #[arg(long)]
    pub group: Option<String>,
    /// Write the online store only (no offline append).
    #[arg(long)]
    pub no_offline: bool,
    /// How often to log progress.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub log_every: std::time::Duration,
    /// Record the statistics and check counts of streamed rows (Kafka, push)
    /// per window of this length of ingest time (`quiver stats VIEW --source kafka`).
    #[arg(long, default_value = "5m", value_parser = stats_window)]
    pub stats_window: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct OnlineArgs {
    /// A join key value, as KEY=VALUE; repeat for more entities (and for composite keys).
    #[arg(long, required = true)]
    pub entity: Vec<String>,
    /// Features as view:feature (or view for all of its features), comma separated.
    #[arg(long, conflicts_with = "service")]
    pub features: Option<String>,
    /// A feature service instead of a feature list.
    #[arg(long)]
    pub service: Option<String>,
    /// Name columns view__feature instead of feature.
    #[arg(long)]
    pub full_feature_names: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    #[arg(long, default_value_t = 6566)]
    pub port: u16,
    /// Serve Arrow Flight (Feast's remote offline store protocol, and quiver's
    /// own training-set call) on this port of --host; 0: any free port.
    #[arg(long, default_value_t = 8815)]
    pub flight_port: u16,
    /// Serve no Arrow Flight.
    #[arg(long, conflicts_with = "flight_port")]
    pub no_flight: bool,
    /// Refuse training-set requests with more entity rows than this.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_entity_rows: usize,
    /// Refuse online lookups with more entities than this.
    #[arg(long, default_value_t = 10_000)]
    pub max_online_entities: usize,
    /// Refuse push requests with more rows than this.
    #[arg(long, default_value_t = 100_000)]
    pub max_push_rows: usize,
    /// Online lookups answer a value older than its view's TTL as PRESENT
    /// with the value, as Feast's server does (default: OUTSIDE_MAX_AGE and null).
    #[arg(long)]
    pub expired_as_present: bool,
    /// Online lookups print float32 values as the double they widen to
    /// (0.12189999967813492), as Feast's server does (default: shortest text, 0.1219).
    #[arg(long)]
    pub float32_as_double: bool,
    /// Refuse request bodies larger than this many bytes.
    #[arg(long, default_value_t = 256 << 20)]
    pub max_body_bytes: usize,
    /// Hold at most this many connections open (TLS handshakes included);
    /// further clients wait until one closes.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Close a connection whose request head (line and headers) is not
    /// complete this long after its first byte.
    #[arg(long, default_value = "10s", value_parser = timeout)]
    pub header_timeout: std::time::Duration,
    /// Answer 408 and close the connection when a request body is not
    /// complete this long after its head.
    #[arg(long, default_value = "60s", value_parser = timeout)]
    pub body_timeout: std::time::Duration,
    /// Close a connection that sends no request for this long (after it is
    /// opened, or between requests).
    #[arg(long, default_value = "30s", value_parser = timeout)]
    pub idle_timeout: std::time::Duration,
    /// Also run the Kafka ingest in this process (its counters at GET /ingest-stats).
    #[arg(long)]
    pub ingest: bool,
    /// Listen on a non-loopback address although no `auth:` tokens are configured.
    #[arg(long)]
    pub insecure: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; overrides quiver.yaml's `tls`).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub ingest_args: IngestArgs,
}

#[derive(Debug, Args)]
pub struct MaterializeArgs {
    /// Start of the window (RFC 3339, inclusive).
    pub start: String,
    /// End of the window (RFC 3339, exclusive).
    pub end: String,
    /// Only these views (default: every view with a batch source).
    #[arg(long, value_delimiter = ',')]
    pub views: Vec<String>,
    /// Skip the feature statistics (checks still run).
    #[arg(long)]
    pub no_stats: bool,
}

#[derive(Debug, Args)]
pub struct MaterializeIncrementalArgs {
    /// End of the window (RFC 3339, exclusive).
    pub end: String,
    /// Only these views (default: every view with a batch source).
    #[arg(long, value_delimiter = ',')]
    pub views: Vec<String>,
    /// Skip the feature statistics (checks still run).
    #[arg(long)]
    pub no_stats: bool,
}

#[derive(Debug, Args)]
pub struct HistoricalArgs {
    /// The entity rows: join keys and an event timestamp per row (.parquet, .csv or .arrow).
    #[arg(long)]
    pub entities: PathBuf,
    /// Features as view:feature (or view for all of its features), comma separated.
    #[arg(long, conflicts_with = "service")]
    pub features: Option<String>,
    /// A feature service instead of a feature list.
    #[arg(long)]
    pub service: Option<String>,
    /// Name columns view__feature instead of feature.
    #[arg(long)]
    pub full_feature_names: bool,
    /// Use a row only if it was also created by the entity row's time (no late corrections).
    #[arg(long)]
    pub as_of_known_time: bool,
    /// Where to write the training set (.parquet, .csv, .arrow or .json).
    #[arg(long)]
    pub out: PathBuf,
    /// Keep the training set's lineage in the registry under this name.
    #[arg(long)]
    pub save: Option<String>,
    /// The entity file's timestamp column.
    #[arg(long, default_value = "event_timestamp")]
    pub timestamp_column: String,
    /// Refuse entity files with more rows than this.
    #[arg(long, default_value_t = crate::commands::historical::DEFAULT_MAX_ENTITY_ROWS)]
    pub max_rows: usize,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create (must be empty or absent).
    pub dir: PathBuf,
    /// Write into a non-empty directory, replacing the example files.
    #[arg(long)]
    pub force: bool,
    /// Drivers in the sample data.
    #[arg(long, default_value_t = 100)]
    pub drivers: usize,
    /// Customers in the sample data.
    #[arg(long, default_value_t = 200)]
    pub customers: usize,
    /// Hourly rows per driver, ending at the current hour.
    #[arg(long, default_value_t = 72)]
    pub hours: usize,
    /// Daily rows per customer, ending at the current hour.
    #[arg(long, default_value_t = 14)]
    pub days: usize,
    /// Seed of the sample data generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListKind {
    Entities,
    Sources,
    #[value(alias = "feature-views")]
    Views,
    #[value(alias = "feature-services")]
    Services,
    /// Saved training sets.
    Datasets,
    /// Materialization runs.
    Runs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    pub kind: ListKind,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The name of an entity, source, feature view or feature service.
    pub name: String,
}

/// A window of streamed rows' statistics: at least a second, so a short typo
/// (`5ms` for `5m`) cannot fill the registry with a record per row.
fn stats_window(text: &str) -> Result<std::time::Duration, String> {
    let window = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if window < std::time::Duration::from_secs(1) {
        return Err(format!("`{text}` is shorter than the shortest window, 1s"));
    }
    Ok(window)
}

/// A connection timeout: more than zero (zero would close every connection at
/// once).
fn timeout(text: &str) -> Result<std::time::Duration, String> {
    let timeout = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if timeout.is_zero() {
        return Err(format!("`{text}` is no time; give e.g. 500ms or 30s"));
    }
    Ok(timeout)
}
