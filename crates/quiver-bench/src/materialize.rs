//! `quiver-bench materialize`: materializes the whole bench repo through
//! `quiver-store` (in process: the library's own figure), once into the embedded
//! store and, with `--redis`, once into Redis. Each store is measured in its own
//! child process so that its peak memory (`VmHWM`) is its own.
//!
//! `FeatureStore::materialize` writes each view's source rows into the offline
//! store, then the latest row per entity into the online store. The online half
//! is timed from the run records it leaves in the registry (one `online` run per
//! view, with its duration).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use quiver_offline::TimeWindow;
use serde::{Deserialize, Serialize};

use crate::stats::{append_json, peak_rss_mib};

/// One store's materialization of one repo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaterializeResult {
    /// Always `materialize`.
    pub kind: String,
    /// `embedded` or `redis`.
    pub store: String,
    /// Groups results in the report (`--tag`): e.g. `serving`, `scaling`.
    #[serde(default)]
    pub tag: String,
    pub project: String,
    pub views: usize,
    pub features_per_view: usize,
    /// Source rows read (and written to the offline store).
    pub source_rows: u64,
    pub offline_seconds: f64,
    /// Rows written to the online store: the latest row per (entity, view).
    pub online_rows: u64,
    pub online_seconds: f64,
    pub online_rows_per_sec: f64,
    /// Feature values written to the online store per second.
    pub online_values_per_sec: f64,
    /// Open to done: offline, online, registry records.
    pub total_seconds: f64,
    /// The process's peak resident set size (`VmHWM`).
    pub peak_rss_mib: f64,
}

/// Parent: one child process per store, each printing one JSON line.
pub fn run(
    dir: &Path,
    redis: Option<&str>,
    clear: bool,
    tag: &str,
    out: Option<&Path>,
) -> crate::Result<()> {
    let exe = std::env::current_exe()?;
    let mut stores = vec![("embedded", None)];
    if let Some(url) = redis {
        stores.push(("redis", Some(url)));
    }
    for (store, url) in stores {
        let mut cmd = Command::new(&exe);
        cmd.arg("materialize-one").arg("--dir").arg(dir);
        match url {
            Some(url) => {
                cmd.env("QUIVER_ONLINE_STORE_URL", url);
                if clear {
                    cmd.arg("--clear");
                }
            }
            None => {
                cmd.env_remove("QUIVER_ONLINE_STORE_URL");
            }
        }
        let output = cmd.output()?;
        if !output.status.success() {
            return Err(format!(
                "materializing into the {store} store failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .ok_or("the child printed no result")?;
        let mut result: MaterializeResult = serde_json::from_str(line)?;
        result.tag = tag.to_string();
        print(&result);
        if let Some(out) = out {
            append_json(out, &result)?;
        }
    }
    Ok(())
}

fn print(r: &MaterializeResult) {
    println!(
        "materialize into {}: {} views × {} features, {} source rows, {} online rows",
        r.store, r.views, r.features_per_view, r.source_rows, r.online_rows
    );
    println!(
        "  offline {:.2} s ({:.0} source rows/s); online {:.2} s: {:.0} rows/s ({:.1}M feature values/s); \
         total {:.2} s ({:.0} source rows/s end to end); peak RSS {:.0} MiB",
        r.offline_seconds,
        r.source_rows as f64 / r.offline_seconds.max(1e-9),
        r.online_seconds,
        r.online_rows_per_sec,
        r.online_values_per_sec / 1e6,
        r.total_seconds,
        r.source_rows as f64 / r.total_seconds.max(1e-9),
        r.peak_rss_mib
    );
}

/// Child: materializes into whichever store the environment selects and prints
/// one JSON line.
pub async fn run_one(dir: &Path, clear: bool) -> crate::Result<()> {
    let store = quiver_store::FeatureStore::open(dir, None).await?;
    let applied = store.applied().await?;
    let views = applied.batch_views(&[])?;
    let now = chrono::Utc::now().timestamp_micros();
    let day = 86_400_000_000;
    // Up to now: a materialization may not end more than an hour ahead.
    let window = TimeWindow {
        start_us: now - 30 * day,
        end_us: now,
    };
    let windows: Vec<(String, TimeWindow)> = views.iter().map(|v| (v.clone(), window)).collect();
    let features_per_view = applied
        .spec
        .feature_views
        .first()
        .map_or(0, |v| v.features.len());

    let started = Instant::now();
    let reports = store.materialize(&applied, &windows, &|_, _| {}).await?;
    let total_seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_mib().unwrap_or(0.0);

    let pid = format!("-{}-", std::process::id());
    let runs = store.registry.runs(store.project(), None).await?;
    let online_ms: i64 = runs
        .iter()
        .filter(|r| r.target == "online" && r.id.contains(&pid))
        .filter_map(|r| r.duration_ms)
        .sum();
    let online_rows: u64 = reports
        .iter()
        .filter_map(|r| r.online)
        .map(|o| o.written + o.dropped_older)
        .sum();
    let offline_ms: u64 = reports.iter().map(|r| r.duration_ms).sum();
    let online_seconds = online_ms as f64 / 1000.0;
    let rate = online_rows as f64 / online_seconds.max(1e-3);
    let redis = matches!(
        store.config.online_store,
        quiver_core::OnlineStoreConfig::Redis { .. }
    );
    let result = MaterializeResult {
        kind: "materialize".into(),
        store: if redis { "redis" } else { "embedded" }.into(),
        tag: String::new(),
        project: store.project().to_string(),
        views: views.len(),
        features_per_view,
        source_rows: reports.iter().map(|r| r.rows).sum(),
        offline_seconds: offline_ms as f64 / 1000.0,
        online_rows,
        online_seconds,
        online_rows_per_sec: rate,
        online_values_per_sec: rate * features_per_view as f64,
        total_seconds,
        peak_rss_mib: peak,
    };
    if clear {
        let removed = store.online().await?.clear().await?;
        eprintln!("cleared {removed} keys of project {}", store.project());
    }
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}
