//! `quiver-bench`: quiver's online-serving benchmark (see `bench/online.sh` and
//! `bench/README.md`).
//!
//! - `setup`: writes and applies a bench feature repo (5 views × 50 float32 features).
//! - `materialize`: materialization figures into the embedded store and Redis, with
//!   peak memory.
//! - `load`: the HTTP load generator against `quiver serve` (open loop at a fixed
//!   rate, or closed loop at saturation).
//! - `floor`: the same reads through `RedisStore::read` directly.
//! - `clear`: removes a project's keys from Redis.
//! - `report`: the summary tables from the runs' JSON lines.
//! - `produce`, `ingest-wait`, `freshness`: the streaming benchmark (`bench/ingest.sh`).

mod drive;
mod floor;
mod load;
mod materialize;
mod report;
mod setup;
mod soak;
mod stats;
mod stream;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use quiver_online::{OnlineStore, RedisOptions, RedisStore};

use crate::drive::{Mode, Target};
use crate::stats::{CpuWatch, RunInfo, ServeResult};
use crate::workload::Workload;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Parser)]
#[command(name = "quiver-bench", about = "quiver's online-serving benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Steady mixed load on a running server (lookups, pushes, training sets); throughput, p99, memory.
    Soak {
        #[arg(long)]
        url: String,
        /// The server's pid, for its resident memory.
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 300.0)]
        duration: f64,
        #[arg(long, default_value_t = 200.0)]
        lookup_rate: f64,
        #[arg(long, default_value_t = 20.0)]
        push_rate: f64,
        /// Seconds between training-set requests (1,000 entity rows each).
        #[arg(long, default_value_t = 5.0)]
        historical_every: f64,
        #[arg(long, default_value_t = 3)]
        drivers: i64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Create TOPIC and write a backlog of EVENTS sample-view events to it.
    Produce {
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap: String,
        #[arg(long)]
        topic: String,
        #[arg(long, default_value_t = 3)]
        partitions: i32,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 10_000)]
        drivers: i64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Wait until the ingest of the server at URL has committed EVENTS messages; print events/s.
    IngestWait {
        #[arg(long)]
        url: String,
        #[arg(long)]
        events: u64,
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Produce at a fixed rate and measure produce-to-served freshness through the API at URL.
    Freshness {
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Every Nth event is a probe.
        #[arg(long, default_value_t = 100)]
        probe_every: u64,
        #[arg(long, default_value = "")]
        label: String,
        /// The producer's linger.ms (a typical producer batches for a few ms).
        #[arg(long, default_value_t = 5)]
        linger_ms: u32,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the bench feature repo in DIR and apply it.
    Setup {
        #[arg(long)]
        dir: PathBuf,
        /// Entity ids 1..=N.
        #[arg(long, default_value_t = 10_000)]
        entities: u64,
        #[arg(long, default_value = "quiver_bench")]
        project: String,
        #[arg(long, default_value_t = 5)]
        views: usize,
        /// float32 features per view.
        #[arg(long, default_value_t = 50)]
        features: usize,
        /// Hourly rows per entity, ending at the current hour.
        #[arg(long, default_value_t = 3)]
        hours: usize,
    },
    /// Materialize the repo into the embedded store and (with --redis) into Redis,
    /// each in its own process; print rows/s and peak memory.
    Materialize {
        #[arg(long)]
        dir: PathBuf,
        /// Also materialize into this Redis.
        #[arg(long)]
        redis: Option<String>,
        /// Remove the project's Redis keys afterwards.
        #[arg(long)]
        clear: bool,
        /// A label for the report (`scaling` results are compared for memory).
        #[arg(long, default_value = "")]
        tag: String,
        /// Append the results as JSON lines to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// (internal) One store's materialization, in a child process.
    #[command(hide = true)]
    MaterializeOne {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        clear: bool,
    },
    /// Load `quiver serve` (or any server answering Feast's
    /// `/get-online-features`, such as Feast's own) over HTTP.
    Load {
        /// The server's base URL, e.g. http://127.0.0.1:6566.
        #[arg(long)]
        url: String,
        /// The name the results are printed and recorded under.
        #[arg(long, default_value = "quiver")]
        label: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// The same reads directly against Redis (RedisStore::read), no HTTP.
    Floor {
        #[arg(long)]
        redis: String,
        /// The project whose keys are read.
        #[arg(long)]
        project: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Remove a project's keys from Redis.
    Clear {
        #[arg(long)]
        redis: String,
        #[arg(long)]
        project: String,
    },
    /// Summary tables from the *.jsonl results in DIR.
    Report {
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Entities per request.
    #[arg(long)]
    entities: usize,
    /// Features per request, spread evenly over the views (50 over 5 views: 10 each).
    #[arg(long)]
    features: usize,
    /// Open loop at this many requests per second.
    #[arg(long, conflicts_with = "saturate")]
    rate: Option<f64>,
    /// Most requests in flight in open loop (connections).
    #[arg(long, default_value_t = 5)]
    connections: usize,
    /// Closed loop: `--concurrency` workers back to back.
    #[arg(long)]
    saturate: bool,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of the same load before measuring (not recorded).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Entity ids 1..=N exist (the N given to setup).
    #[arg(long, default_value_t = 10_000)]
    population: u64,
    /// Views in the repo and features per view (as given to setup).
    #[arg(long, default_value_t = 5)]
    views: usize,
    #[arg(long, default_value_t = 50)]
    per_view: usize,
    /// Distinct requests (random entity sets), cycled.
    #[arg(long, default_value_t = 1000)]
    pool: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Report the CPU time of these processes too (the server, Redis).
    #[arg(long = "watch-pid")]
    watch_pids: Vec<u32>,
    /// Append the result as a JSON line to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl RunArgs {
    fn workload(&self) -> Workload {
        Workload {
            views: self.views,
            per_view: self.per_view,
            population: self.population,
            entities: self.entities,
            features: self.features,
            pool: self.pool,
            seed: self.seed,
        }
    }

    fn mode(&self) -> Result<Mode> {
        match (self.rate, self.saturate) {
            (Some(per_sec), false) if per_sec > 0.0 => Ok(Mode::Rate {
                per_sec,
                connections: self.connections.max(1),
            }),
            (None, true) => Ok(Mode::Saturate {
                concurrency: self.concurrency.max(1),
            }),
            _ => Err("give --rate R (> 0) or --saturate".into()),
        }
    }

    fn runtime(&self) -> Result<tokio::runtime::Runtime> {
        Ok(if self.threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(self.threads)
                .enable_all()
                .build()?
        })
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = dispatch(cli.command) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn append_to<T: serde::Serialize>(out: Option<&std::path::Path>, result: &T) -> Result<()> {
    match out {
        Some(path) => stats::append_json(path, result),
        None => Ok(()),
    }
}

fn small_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Soak {
            url,
            pid,
            duration,
            lookup_rate,
            push_rate,
            historical_every,
            drivers,
            out,
        } => small_runtime()?.block_on(async {
            let result = soak::run(&soak::SoakRun {
                url: &url,
                server_pid: pid,
                secs: duration,
                lookup_rate,
                push_rate,
                historical_every,
                drivers,
            })
            .await?;
            append_to(out.as_deref(), &result)
        }),
        Command::Produce {
            bootstrap,
            topic,
            partitions,
            events,
            drivers,
            out,
        } => small_runtime()?.block_on(async {
            let result = stream::produce(&bootstrap, &topic, partitions, events, drivers).await?;
            append_to(out.as_deref(), &result)
        }),
        Command::IngestWait {
            url,
            events,
            label,
            timeout_secs,
            out,
        } => small_runtime()?.block_on(async {
            let timeout = Duration::from_secs(timeout_secs);
            let result = stream::ingest_wait(&url, events, &label, timeout).await?;
            append_to(out.as_deref(), &result)
        }),
        Command::Freshness {
            bootstrap,
            topic,
            url,
            rate,
            duration,
            warmup,
            probe_every,
            label,
            linger_ms,
            out,
        } => small_runtime()?.block_on(async {
            let result = stream::freshness(&stream::FreshnessRun {
                label: &label,
                bootstrap: &bootstrap,
                topic: &topic,
                server: &url,
                rate,
                secs: duration,
                warmup,
                probe_every: probe_every.max(1),
                linger_ms,
            })
            .await?;
            append_to(out.as_deref(), &result)
        }),
        Command::Setup {
            dir,
            entities,
            project,
            views,
            features,
            hours,
        } => small_runtime()?.block_on(setup::run(&setup::SetupArgs {
            dir: &dir,
            project: &project,
            entities,
            views,
            features,
            hours,
        })),
        Command::Materialize {
            dir,
            redis,
            clear,
            tag,
            out,
        } => materialize::run(&dir, redis.as_deref(), clear, &tag, out.as_deref()),
        Command::MaterializeOne { dir, clear } => {
            small_runtime()?.block_on(materialize::run_one(&dir, clear))
        }
        Command::Load { url, label, run } => {
            let workload = run.workload();
            let mode = run.mode()?;
            run.runtime()?.block_on(async {
                let target = load::target(&url, &workload, mode)?;
                measure(&label, target, &workload, mode, &run).await
            })
        }
        Command::Floor {
            redis,
            project,
            run,
        } => {
            let workload = run.workload();
            let mode = run.mode()?;
            run.runtime()?.block_on(async {
                let target = Arc::new(floor::Floor::connect(&redis, &project, &workload).await?);
                measure("floor", target, &workload, mode, &run).await
            })
        }
        Command::Clear { redis, project } => small_runtime()?.block_on(async {
            let store = RedisStore::connect(&redis, &project, RedisOptions::default()).await?;
            let removed = store.clear().await?;
            println!("cleared {removed} keys of project {project}");
            Ok(())
        }),
        Command::Report { dir } => report::run(&dir),
    }
}

async fn measure<T: Target>(
    name: &str,
    target: Arc<T>,
    workload: &Workload,
    mode: Mode,
    run: &RunArgs,
) -> Result<()> {
    drive::warm_up(target.clone(), mode, Duration::from_secs_f64(run.warmup)).await?;
    let cpu = CpuWatch::start(&run.watch_pids);
    let tally = drive::measure(target, mode, Duration::from_secs_f64(run.duration)).await;
    let cpu = cpu.finish(tally.ok);
    let (mode_name, rate, concurrency) = match mode {
        Mode::Rate {
            per_sec,
            connections,
        } => ("rate", Some(per_sec), connections),
        Mode::Saturate { concurrency } => ("saturate", None, concurrency),
    };
    let result = ServeResult::new(
        RunInfo {
            target: name,
            mode: mode_name,
            rate,
            concurrency,
            entities: workload.entities,
            features: workload.features,
            spread: workload.spread_label(),
        },
        &tally,
        cpu,
    );
    result.print();
    if let Some(out) = &run.out {
        stats::append_json(out, &result)?;
    }
    Ok(())
}
