//! The soak: `quiver serve` under steady mixed load for a bounded time (online
//! lookups and pushes at fixed rates, a training set every few seconds), with
//! throughput, latency and the server's resident memory at the start and end.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Result;
use crate::stats::rss_mib;

pub struct SoakRun<'a> {
    pub url: &'a str,
    pub server_pid: u32,
    pub secs: f64,
    pub lookup_rate: f64,
    pub push_rate: f64,
    pub historical_every: f64,
    /// Lookups and pushes use drivers 1001..1001+N.
    pub drivers: i64,
}

#[derive(Serialize)]
pub struct KindResult {
    pub kind: String,
    pub requests: u64,
    pub errors: u64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Serialize)]
pub struct SoakResult {
    pub secs: f64,
    pub kinds: Vec<KindResult>,
    /// The server's resident memory, sampled every 10 s from the start.
    pub rss_mib: Vec<f64>,
}

struct Tally {
    histogram: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

type Shared = Arc<Mutex<Tally>>;

fn tally() -> Result<Shared> {
    Ok(Arc::new(Mutex::new(Tally {
        histogram: Histogram::new_with_bounds(1, 120_000_000, 3)?,
        errors: 0,
        first_error: None,
    })))
}

/// Sends `body()` to `route` every `every` until `end`, recording each answer.
async fn steady(
    client: reqwest::Client,
    url: String,
    every: Duration,
    end: Instant,
    body: impl Fn(u64) -> Value,
    tally: Shared,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        n += 1;
        let started = Instant::now();
        let outcome = client.post(&url).json(&body(n)).send().await;
        let elapsed = started.elapsed().as_micros() as u64;
        let ok = match outcome {
            Ok(response) if response.status().is_success() => {
                // Read the whole answer: a training set streams its rows.
                response
                    .bytes()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Ok(response) => Err(format!(
                "{}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            )),
            Err(e) => Err(e.to_string()),
        };
        if let Ok(mut t) = tally.lock() {
            match ok {
                Ok(()) => {
                    let _ = t.histogram.record(elapsed.max(1));
                }
                Err(e) => {
                    t.errors += 1;
                    t.first_error.get_or_insert(e);
                }
            }
        }
    }
}

pub async fn run(run: &SoakRun<'_>) -> Result<SoakResult> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(run.secs);
    let drivers = run.drivers.max(1);
    let (lookups, pushes, trainings) = (tally()?, tally()?, tally()?);
    let lookup = tokio::spawn(steady(
        client.clone(),
        format!("{}/get-online-features", run.url),
        Duration::from_secs_f64(1.0 / run.lookup_rate),
        end,
        move |n| {
            json!({"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
                   "entities": {"driver_id": [1001 + (n as i64 % drivers)]}})
        },
        lookups.clone(),
    ));
    let push = tokio::spawn(steady(
        client.clone(),
        format!("{}/push", run.url),
        Duration::from_secs_f64(1.0 / run.push_rate),
        end,
        move |n| {
            let now = chrono::Utc::now().to_rfc3339();
            json!({"push_source_name": "driver_stats_push", "to": "online_and_offline",
                   "df": {"driver_id": [1001 + (n as i64 % drivers)], "event_timestamp": [now],
                          "conv_rate": [0.5], "avg_daily_trips": [n as i64]}})
        },
        pushes.clone(),
    ));
    let training = tokio::spawn(steady(
        client.clone(),
        format!("{}/get-historical-features", run.url),
        Duration::from_secs_f64(run.historical_every),
        end,
        move |_| {
            let now = chrono::Utc::now();
            let rows = 1000;
            let ids: Vec<i64> = (0..rows).map(|i| 1001 + i % drivers).collect();
            let times: Vec<String> = (0..rows)
                .map(|i| (now - chrono::Duration::minutes(i)).to_rfc3339())
                .collect();
            json!({"features": ["driver_hourly_stats:conv_rate", "driver_pushed_stats:avg_daily_trips"],
                   "entities": {"driver_id": ids, "event_timestamp": times}})
        },
        trainings.clone(),
    ));
    let mut rss = vec![rss_mib(run.server_pid).unwrap_or(f64::NAN)];
    while Instant::now() + Duration::from_secs(10) <= end {
        tokio::time::sleep(Duration::from_secs(10)).await;
        rss.push(rss_mib(run.server_pid).unwrap_or(f64::NAN));
    }
    for task in [lookup, push, training] {
        task.await?;
    }
    rss.push(rss_mib(run.server_pid).unwrap_or(f64::NAN));
    let secs = started.elapsed().as_secs_f64();
    let mut kinds = Vec::new();
    for (kind, tally) in [
        ("lookup", lookups),
        ("push", pushes),
        ("training set", trainings),
    ] {
        let t = tally.lock().map_err(|_| "poisoned")?;
        if let Some(error) = &t.first_error {
            eprintln!("{kind}: {} errors, the first: {error}", t.errors);
        }
        let ms = |q: f64| t.histogram.value_at_quantile(q) as f64 / 1000.0;
        kinds.push(KindResult {
            kind: kind.to_string(),
            requests: t.histogram.len(),
            errors: t.errors,
            per_sec: t.histogram.len() as f64 / secs,
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
        });
    }
    for k in &kinds {
        println!(
            "{:<13} {:>7} ok {:>4} errors {:>8.1}/s  p50 {:>8.2} ms  p99 {:>8.2} ms",
            k.kind, k.requests, k.errors, k.per_sec, k.p50_ms, k.p99_ms
        );
    }
    // The first 10 s warm the server up (connections, caches, allocator arenas).
    let warm = rss.get(1).or(rss.first()).copied().unwrap_or(f64::NAN);
    let last = rss.last().copied().unwrap_or(f64::NAN);
    println!(
        "server RSS: {warm:.1} MiB after 10 s, {last:.1} MiB at the end ({:+.1} %); every 10 s: {}",
        (last / warm - 1.0) * 100.0,
        rss.iter()
            .map(|m| format!("{m:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(SoakResult {
        secs,
        kinds,
        rss_mib: rss,
    })
}
