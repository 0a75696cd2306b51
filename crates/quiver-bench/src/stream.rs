//! The streaming benchmark's client side (see `bench/ingest.sh`):
//! - `produce`: a backlog of events on a topic, as fast as the broker takes them;
//! - `ingest-wait`: the ingest's throughput, read off a running server's
//!   `GET /ingest-stats` from its first consumed message to its last commit;
//! - `freshness`: events at a fixed rate, and the time from producing a probe
//!   event to its value being readable through `POST /get-online-features`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Result;

/// The sample's stream view (`quiver init`) that the events feed.
const VIEW: &str = "driver_hourly_stats";
/// Probe events use their own drivers, far from the background ones.
const FIRST_PROBE_DRIVER: i64 = 1_000_000_000;

/// Probes not served yet: driver -> (its value, when it was sent, whether it is measured).
type Probes = Mutex<HashMap<i64, (i64, Instant, bool)>>;

fn producer(bootstrap: &str, linger_ms: u32) -> Result<FutureProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", linger_ms.to_string())
        .set("queue.buffering.max.messages", "1000000")
        .set("acks", "all")
        .create()?)
}

/// One event of the sample view, at `now`.
fn event(driver: i64, trips: i64, now_us: i64) -> String {
    format!(
        r#"{{"driver_id":{driver},"event_timestamp":{:.6},"conv_rate":0.5,"acc_rate":0.75,"avg_daily_trips":{trips}}}"#,
        now_us as f64 / 1e6
    )
}

fn now_us() -> i64 {
    quiver_online::now_us()
}

/// Enqueues a message, waiting while the client's queue is full.
async fn enqueue(producer: &FutureProducer, topic: &str, key: &str, payload: &str) -> Result<()> {
    loop {
        let record = FutureRecord::to(topic).key(key).payload(payload);
        match producer.send_result(record) {
            Ok(_delivery) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((error, _)) => return Err(error.into()),
        }
    }
}

#[derive(Serialize)]
pub struct ProduceResult {
    pub events: u64,
    pub secs: f64,
    pub events_per_sec: f64,
}

/// Creates `topic` and writes `events` events over `drivers` drivers.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    events: u64,
    drivers: i64,
) -> Result<ProduceResult> {
    quiver_stream::ensure_topics(bootstrap, &[topic], partitions, &Default::default()).await?;
    let producer = producer(bootstrap, 20)?;
    let started = Instant::now();
    let now = now_us();
    for i in 0..events as i64 {
        let driver = 1 + i % drivers.max(1);
        // Later events of a driver are newer, so every one is a real update.
        let payload = event(driver, i, now - (events as i64 - i));
        enqueue(&producer, topic, &driver.to_string(), &payload).await?;
    }
    producer.flush(Duration::from_secs(120))?;
    let secs = started.elapsed().as_secs_f64();
    let result = ProduceResult {
        events,
        secs,
        events_per_sec: events as f64 / secs.max(1e-9),
    };
    println!(
        "produced {} events to {topic} in {:.2} s ({:.0} events/s)",
        result.events, result.secs, result.events_per_sec
    );
    Ok(result)
}

#[derive(Serialize)]
pub struct IngestResult {
    pub label: String,
    pub events: u64,
    pub secs: f64,
    pub events_per_sec: f64,
    pub stats: Value,
}

/// Waits until the server's ingest has committed `events` messages; the time
/// runs from the first consumed message (the group join is not counted).
pub async fn ingest_wait(
    server: &str,
    events: u64,
    label: &str,
    timeout: Duration,
) -> Result<IngestResult> {
    let client = reqwest::Client::new();
    let url = format!("{server}/ingest-stats");
    let deadline = Instant::now() + timeout;
    let mut first: Option<Instant> = None;
    loop {
        let stats: Value = client.get(&url).send().await?.json().await?;
        let consumed = stats["messages"].as_u64().unwrap_or(0);
        if consumed > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if stats["committed_messages"].as_u64().unwrap_or(0) >= events {
            let secs = first.map_or(0.0, |t| t.elapsed().as_secs_f64());
            let result = IngestResult {
                label: label.to_string(),
                events,
                secs,
                events_per_sec: events as f64 / secs.max(1e-9),
                stats,
            };
            println!(
                "ingest ({label}): {events} events committed in {secs:.2} s = {:.0} events/s",
                result.events_per_sec
            );
            return Ok(result);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {timeout:?}: {stats}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[derive(Serialize)]
pub struct FreshnessResult {
    pub label: String,
    pub rate: f64,
    pub achieved_rate: f64,
    pub secs: f64,
    pub probes: u64,
    pub resolved: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Produces events at `rate` per second for `secs` (after `warmup` seconds not
/// measured); every `probe_every`-th event is a probe with its own driver and a
/// unique value, polled for through the HTTP API until it is served.
/// One freshness run.
pub struct FreshnessRun<'a> {
    pub label: &'a str,
    pub bootstrap: &'a str,
    pub topic: &'a str,
    pub server: &'a str,
    pub rate: f64,
    pub secs: f64,
    pub warmup: f64,
    pub probe_every: u64,
    /// The producer's linger: how long it waits to fill a batch.
    pub linger_ms: u32,
}

pub async fn freshness(run: &FreshnessRun<'_>) -> Result<FreshnessResult> {
    let FreshnessRun {
        label,
        bootstrap,
        topic,
        server,
        rate,
        secs,
        warmup,
        probe_every,
        linger_ms,
    } = *run;
    let producer = producer(bootstrap, linger_ms)?;
    let outstanding: Arc<Probes> = Arc::default();
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = tokio::spawn(poll_probes(
        server.to_string(),
        outstanding.clone(),
        histogram.clone(),
        done.clone(),
    ));

    let per_tick = (rate / 1000.0).max(1.0);
    let mut tick = tokio::time::interval(Duration::from_micros((per_tick * 1e6 / rate) as u64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(secs);
    let (mut sent, mut sent_measured, mut probes) = (0u64, 0u64, 0u64);
    let mut owed = 0.0;
    while Instant::now() < end {
        tick.tick().await;
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            sent += 1;
            let measured = Instant::now() >= measure_from;
            sent_measured += u64::from(measured);
            let trips = sent as i64;
            if sent.is_multiple_of(probe_every) {
                let driver = FIRST_PROBE_DRIVER + sent as i64;
                let payload = event(driver, trips, now_us());
                outstanding
                    .lock()
                    .map_err(|_| "poisoned")?
                    .insert(driver, (trips, Instant::now(), measured));
                enqueue(&producer, topic, &driver.to_string(), &payload).await?;
                probes += u64::from(measured);
            } else {
                let driver = 1 + (sent as i64 % 10_000);
                enqueue(
                    &producer,
                    topic,
                    &driver.to_string(),
                    &event(driver, trips, now_us()),
                )
                .await?;
            }
        }
    }
    let producing = started.elapsed().as_secs_f64() - warmup;
    // Give the last probes time to arrive, then stop polling.
    let grace = Instant::now() + Duration::from_secs(5);
    while Instant::now() < grace && !outstanding.lock().map_err(|_| "poisoned")?.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    poller.await??;
    let histogram = histogram.lock().map_err(|_| "poisoned")?;
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    let result = FreshnessResult {
        label: label.to_string(),
        rate,
        achieved_rate: sent_measured as f64 / producing.max(1e-9),
        secs,
        probes,
        resolved: histogram.len(),
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        max_ms: histogram.max() as f64 / 1000.0,
    };
    println!(
        "freshness ({label}) at {:.0} events/s (achieved {:.0}): {} of {} probes served; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        result.rate,
        result.achieved_rate,
        result.resolved,
        result.probes,
        result.p50_ms,
        result.p90_ms,
        result.p99_ms,
        result.max_ms
    );
    Ok(result)
}

/// Every millisecond, asks the server for the outstanding probes' values and
/// records how long each took to be served.
async fn poll_probes(
    server: String,
    outstanding: Arc<Probes>,
    histogram: Arc<Mutex<Histogram<u64>>>,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> Result<()> {
    let client = reqwest::Client::new();
    let url = format!("{server}/get-online-features");
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let drivers: Vec<i64> = outstanding
            .lock()
            .map_err(|_| "poisoned")?
            .keys()
            .copied()
            .collect();
        if drivers.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let body = json!({"features": [format!("{VIEW}:avg_daily_trips")], "entities": {"driver_id": drivers}});
        let answer: Value = client.post(&url).json(&body).send().await?.json().await?;
        let seen = Instant::now();
        let values = answer["results"][1]["values"]
            .as_array()
            .ok_or_else(|| format!("unexpected answer: {answer}"))?;
        resolve(&outstanding, &histogram, &drivers, values, seen)?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Records the probes whose values are now served.
fn resolve(
    outstanding: &Probes,
    histogram: &Mutex<Histogram<u64>>,
    drivers: &[i64],
    values: &[Value],
    seen: Instant,
) -> Result<()> {
    let mut outstanding = outstanding.lock().map_err(|_| "poisoned")?;
    for (driver, value) in drivers.iter().zip(values) {
        let Some(&(trips, sent, measured)) = outstanding.get(driver) else {
            continue;
        };
        if value.as_i64() == Some(trips) {
            outstanding.remove(driver);
            if measured {
                let micros = seen.duration_since(sent).as_micros() as u64;
                histogram
                    .lock()
                    .map_err(|_| "poisoned")?
                    .record(micros.max(1))?;
            }
        }
    }
    Ok(())
}
