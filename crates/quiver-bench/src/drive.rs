//! The load driver shared by `load` (HTTP) and `floor` (Redis directly):
//! open loop at a fixed rate, or closed loop at saturation.
//!
//! Open loop: request `i` is due at `start + i / rate`; a pacing thread releases it
//! at that instant (sleep, then spin for the last ~150 µs, so the release is
//! accurate to a few µs) and its latency is measured from that *scheduled* time to
//! the end of the answer. A request that waits for a free connection, or for a
//! server that stalled, carries that wait in its latency: queueing is not hidden
//! (no coordinated omission). At most `connections` requests are in flight.
//!
//! Closed loop: `concurrency` workers each send a request as soon as their previous
//! one is answered, for the duration; latency is send to answer.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::stats::{Recorder, Tally};

/// What is being measured: one call is one request (one lookup).
pub trait Target: Send + Sync + 'static {
    /// What a call brings back, checked after its latency is taken.
    type Reply: Send + 'static;
    /// Sends request `i` (of the workload's pool, cycled) and waits for the whole answer.
    fn call(&self, i: u64) -> impl Future<Output = Result<Self::Reply, String>> + Send;
    /// Checks an answer (every value found); `full` asks for a complete check
    /// of its shape (done once, during the warm-up).
    fn check(&self, i: u64, reply: Self::Reply, full: bool) -> Result<(), String>;
}

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Open loop: `per_sec` requests per second, at most `connections` in flight.
    Rate { per_sec: f64, connections: usize },
    /// Closed loop: `concurrency` workers back to back.
    Saturate { concurrency: usize },
}

/// The warm-up: the same load, not recorded; its first answer is checked in full.
/// Fails when nothing succeeded (wrong URL, nothing materialized...).
pub async fn warm_up<T: Target>(
    target: Arc<T>,
    mode: Mode,
    duration: Duration,
) -> Result<(), String> {
    let tally = phase(target, mode, duration.max(Duration::from_millis(100)), true).await;
    if tally.ok == 0 {
        return Err(format!(
            "no request succeeded during the warm-up: {}",
            tally.error_summary()
        ));
    }
    if tally.errors > 0 {
        eprintln!(
            "warning: {} of {} warm-up requests failed: {}",
            tally.errors,
            tally.ok + tally.errors,
            tally.error_summary()
        );
    }
    Ok(())
}

/// The measured phase.
pub async fn measure<T: Target>(target: Arc<T>, mode: Mode, duration: Duration) -> Tally {
    phase(target, mode, duration, false).await
}

async fn phase<T: Target>(target: Arc<T>, mode: Mode, duration: Duration, warmup: bool) -> Tally {
    match mode {
        Mode::Rate {
            per_sec,
            connections,
        } => open_loop(target, per_sec, connections, duration, warmup).await,
        Mode::Saturate { concurrency } => closed_loop(target, concurrency, duration, warmup).await,
    }
}

async fn open_loop<T: Target>(
    target: Arc<T>,
    per_sec: f64,
    connections: usize,
    duration: Duration,
    warmup: bool,
) -> Tally {
    let total = (duration.as_secs_f64() * per_sec).floor() as u64;
    let start = Instant::now() + Duration::from_millis(5);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / per_sec);
            wait_until(due);
            if tx.send((i, due)).is_err() {
                return;
            }
        }
    });
    let slots = Arc::new(Semaphore::new(connections.max(1)));
    let recorder = Arc::new(Mutex::new(Recorder::new(true)));
    let checked = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    while let Some((i, due)) = rx.recv().await {
        let target = target.clone();
        let slots = slots.clone();
        let recorder = recorder.clone();
        let checked = checked.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            let sent = Instant::now();
            let reply = target.call(i).await;
            let done = Instant::now();
            let full = warmup && checked.fetch_add(1, Ordering::Relaxed) == 0;
            let outcome = reply.and_then(|r| target.check(i, r, full));
            if let Ok(mut rec) = recorder.lock() {
                rec.record(done - due, Some(sent - due), done, outcome);
            }
        }));
    }
    // Requests still unanswered this long after the last one was due count as
    // errors, so an overloaded target cannot stretch the run without bound.
    let drain = tokio::time::Instant::now() + DRAIN.max(duration);
    let mut unanswered = 0u64;
    for mut task in tasks {
        if tokio::time::timeout_at(drain, &mut task).await.is_err() {
            task.abort();
            unanswered += 1;
        }
    }
    let _ = pacer.join();
    let mut recorder = match Arc::try_unwrap(recorder) {
        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
        Err(shared) => shared.lock().map(|r| r.clone()).unwrap_or_default(),
    };
    for _ in 0..unanswered {
        let message = format!(
            "no answer within {} s after the last request was due",
            DRAIN.max(duration).as_secs()
        );
        recorder.record(Duration::ZERO, None, Instant::now(), Err(message));
    }
    let mut tally = recorder.finish(start);
    tally.offered = total;
    tally
}

/// How long the open loop waits for the last answers (at least the run's length).
const DRAIN: Duration = Duration::from_secs(5);

/// Sleeps until shortly before `due`, then spins: `thread::sleep` alone wakes up
/// 50-100 µs late, which would show up as latency.
fn wait_until(due: Instant) {
    const SPIN: Duration = Duration::from_micros(150);
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        let left = due - now;
        if left > SPIN {
            std::thread::sleep(left - SPIN);
        } else {
            std::hint::spin_loop();
        }
    }
}

async fn closed_loop<T: Target>(
    target: Arc<T>,
    concurrency: usize,
    duration: Duration,
    warmup: bool,
) -> Tally {
    let start = Instant::now();
    let deadline = start + duration;
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let target = target.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut rec = Recorder::new(false);
                loop {
                    let sent = Instant::now();
                    if sent >= deadline {
                        return rec;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let reply = target.call(i).await;
                    let done = Instant::now();
                    let outcome = reply.and_then(|r| target.check(i, r, warmup && i == 0));
                    rec.record(done - sent, None, done, outcome);
                }
            })
        })
        .collect();
    let mut all = Recorder::new(false);
    for worker in workers {
        if let Ok(rec) = worker.await {
            all.merge(&rec);
        }
    }
    let mut tally = all.finish(start);
    tally.offered = tally.ok + tally.errors;
    tally
}
