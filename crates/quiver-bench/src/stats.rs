//! Latency histograms (µs precision), error counts, CPU use of the processes
//! involved, and the one-line JSON result each run can append to a file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency recorded exactly: one minute, in µs.
const MAX_US: u64 = 60_000_000;
/// Distinct error messages kept (the rest count as "other").
const MAX_SAMPLES: usize = 20;

fn histogram() -> Histogram<u64> {
    // 3 significant digits over 1 µs .. 60 s: bounds that are valid by construction.
    Histogram::new_with_bounds(1, MAX_US, 3).unwrap_or_else(|_| unreachable!())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(MAX_US)
        .clamp(1, MAX_US)
}

/// What one load phase records.
#[derive(Clone)]
pub struct Recorder {
    latency: Histogram<u64>,
    /// Open loop only: scheduled send time to actual send.
    delay: Option<Histogram<u64>>,
    ok: u64,
    errors: u64,
    samples: BTreeMap<String, u64>,
    last: Option<Instant>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new(false)
    }
}

impl Recorder {
    pub fn new(with_delay: bool) -> Self {
        Recorder {
            latency: histogram(),
            delay: with_delay.then(histogram),
            ok: 0,
            errors: 0,
            samples: BTreeMap::new(),
            last: None,
        }
    }

    /// Records one request. Latency is recorded for successful requests only; an
    /// error is counted with its message.
    pub fn record(
        &mut self,
        latency: Duration,
        delay: Option<Duration>,
        done: Instant,
        outcome: Result<(), String>,
    ) {
        self.last = Some(self.last.map_or(done, |l| l.max(done)));
        match outcome {
            Ok(()) => {
                self.ok += 1;
                self.latency.saturating_record(micros(latency));
                if let (Some(h), Some(d)) = (self.delay.as_mut(), delay) {
                    h.saturating_record(micros(d));
                }
            }
            Err(message) => {
                self.errors += 1;
                let mut message: String = message.chars().take(160).collect();
                if !self.samples.contains_key(&message) && self.samples.len() >= MAX_SAMPLES {
                    message = "other".to_string();
                }
                *self.samples.entry(message).or_default() += 1;
            }
        }
    }

    pub fn merge(&mut self, other: &Recorder) {
        let _ = self.latency.add(&other.latency);
        if let (Some(mine), Some(theirs)) = (self.delay.as_mut(), other.delay.as_ref()) {
            let _ = mine.add(theirs);
        }
        self.ok += other.ok;
        self.errors += other.errors;
        for (message, count) in &other.samples {
            *self.samples.entry(message.clone()).or_default() += count;
        }
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// The phase's totals; its length runs from `start` to the last answer.
    pub fn finish(self, start: Instant) -> Tally {
        let elapsed = self
            .last
            .map_or(Duration::ZERO, |l| l.saturating_duration_since(start));
        Tally {
            latency: self.latency,
            delay: self.delay,
            ok: self.ok,
            errors: self.errors,
            samples: self.samples,
            elapsed,
            offered: 0,
        }
    }
}

/// A finished phase.
pub struct Tally {
    pub latency: Histogram<u64>,
    pub delay: Option<Histogram<u64>>,
    pub ok: u64,
    pub errors: u64,
    pub samples: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// Requests scheduled (open loop) or sent (closed loop).
    pub offered: u64,
}

impl Tally {
    pub fn error_summary(&self) -> String {
        if self.samples.is_empty() {
            return "none".to_string();
        }
        self.samples
            .iter()
            .map(|(m, n)| format!("{n}× {m}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// CPU time of this process and of watched ones (the server, Redis) over a phase,
/// from `/proc/PID/stat` (utime + stime, in clock ticks of 1/100 s).
pub struct CpuWatch {
    procs: Vec<(String, Option<u32>, Option<u64>)>,
    started: Instant,
}

const TICKS_PER_SEC: f64 = 100.0;

fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3,
    // utime field 14, stime field 15.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".to_string())
}

impl CpuWatch {
    pub fn start(pids: &[u32]) -> Self {
        let mut procs = vec![("quiver-bench (load)".to_string(), None, cpu_ticks(None))];
        for &pid in pids {
            procs.push((process_name(pid), Some(pid), cpu_ticks(Some(pid))));
        }
        CpuWatch {
            procs,
            started: Instant::now(),
        }
    }

    pub fn finish(&self, requests: u64) -> Vec<CpuUse> {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        self.procs
            .iter()
            .filter_map(|(name, pid, before)| {
                let used = (cpu_ticks(*pid)? - (*before)?) as f64 / TICKS_PER_SEC;
                Some(CpuUse {
                    name: name.clone(),
                    pid: *pid,
                    core_percent: 100.0 * used / wall,
                    us_per_request: 1e6 * used / requests.max(1) as f64,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuUse {
    pub name: String,
    pub pid: Option<u32>,
    /// CPU time over wall time, in % of one core.
    pub core_percent: f64,
    /// CPU time per successful request.
    pub us_per_request: f64,
}

/// One measured run of `load` or `floor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServeResult {
    /// Always `serve`.
    pub kind: String,
    /// `quiver` (HTTP through `quiver serve`) or `floor` (the same reads on Redis directly).
    pub target: String,
    /// `rate` (open loop) or `saturate` (closed loop).
    pub mode: String,
    /// Requests per second asked for (open loop).
    pub rate: Option<f64>,
    /// Connections (open loop) or workers (closed loop).
    pub concurrency: usize,
    pub entities: usize,
    pub features: usize,
    pub spread: String,
    pub seconds: f64,
    pub offered: u64,
    pub ok: u64,
    pub errors: u64,
    pub error_samples: Vec<(String, u64)>,
    /// Successful requests per second.
    pub throughput: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// Open loop: scheduled send time to actual send.
    pub delay_p50_us: Option<u64>,
    pub delay_p99_us: Option<u64>,
    pub cpu: Vec<CpuUse>,
}

pub struct RunInfo<'a> {
    pub target: &'a str,
    pub mode: &'a str,
    pub rate: Option<f64>,
    pub concurrency: usize,
    pub entities: usize,
    pub features: usize,
    pub spread: String,
}

impl ServeResult {
    pub fn new(info: RunInfo<'_>, tally: &Tally, cpu: Vec<CpuUse>) -> Self {
        let secs = tally.elapsed.as_secs_f64();
        let q = |p: f64| tally.latency.value_at_quantile(p);
        ServeResult {
            kind: "serve".into(),
            target: info.target.into(),
            mode: info.mode.into(),
            rate: info.rate,
            concurrency: info.concurrency,
            entities: info.entities,
            features: info.features,
            spread: info.spread,
            seconds: secs,
            offered: tally.offered,
            ok: tally.ok,
            errors: tally.errors,
            error_samples: tally.samples.iter().map(|(m, n)| (m.clone(), *n)).collect(),
            throughput: if secs > 0.0 {
                tally.ok as f64 / secs
            } else {
                0.0
            },
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: tally.latency.max(),
            mean_us: tally.latency.mean(),
            delay_p50_us: tally.delay.as_ref().map(|h| h.value_at_quantile(0.5)),
            delay_p99_us: tally.delay.as_ref().map(|h| h.value_at_quantile(0.99)),
            cpu,
        }
    }

    /// The human-readable lines.
    pub fn print(&self) {
        let mode = match self.rate {
            Some(rate) => format!(
                "open loop at {rate} req/s, up to {} in flight",
                self.concurrency
            ),
            None => format!("closed loop, {} concurrent", self.concurrency),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {}x{} ({}), {mode}, {:.1} s",
            self.target, self.entities, self.features, self.spread, self.seconds
        );
        let _ = writeln!(
            out,
            "  requests: {} ok, {} errors of {}; throughput {:.1} req/s",
            self.ok, self.errors, self.offered, self.throughput
        );
        for (message, count) in &self.error_samples {
            let _ = writeln!(out, "    error ×{count}: {message}");
        }
        let _ = writeln!(
            out,
            "  latency µs{}: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {:.0}",
            if self.rate.is_some() {
                " (from the scheduled send time)"
            } else {
                ""
            },
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.p999_us,
            self.max_us,
            self.mean_us
        );
        if let (Some(p50), Some(p99)) = (self.delay_p50_us, self.delay_p99_us) {
            let _ = writeln!(
                out,
                "  send delay µs (scheduled -> sent, included above): p50 {p50}  p99 {p99}"
            );
        }
        if !self.cpu.is_empty() {
            let parts: Vec<String> = self
                .cpu
                .iter()
                .map(|c| {
                    let who = match c.pid {
                        Some(pid) => format!("{}[{pid}]", c.name),
                        None => c.name.clone(),
                    };
                    format!(
                        "{who} {:.0}% of a core ({:.0} µs/req)",
                        c.core_percent, c.us_per_request
                    )
                })
                .collect();
            let _ = writeln!(out, "  cpu: {}", parts.join("; "));
        }
        print!("{out}");
    }
}

/// Appends `value` as one JSON line to `path`.
pub fn append_json<T: Serialize>(path: &Path, value: &T) -> crate::Result<()> {
    let mut line = serde_json::to_string(value)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    file.write_all(line.as_bytes())?;
    Ok(())
}

/// The process's peak resident set size (`VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("self", "VmHWM:")
}

/// The current resident memory of process `pid`, MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    status_mib(&pid.to_string(), "VmRSS:")
}

fn status_mib(process: &str, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_successes_and_counts_errors() {
        let start = Instant::now();
        let mut a = Recorder::new(true);
        for us in 1..=1000 {
            a.record(
                Duration::from_micros(us),
                Some(Duration::from_micros(1)),
                start,
                Ok(()),
            );
        }
        let mut b = Recorder::new(true);
        b.record(Duration::from_secs(1), None, start, Err("HTTP 500".into()));
        a.merge(&b);
        let tally = a.finish(start);
        assert_eq!((tally.ok, tally.errors), (1000, 1));
        let p50 = tally.latency.value_at_quantile(0.5);
        assert!((499..=501).contains(&p50), "{p50}");
        assert_eq!(tally.latency.max(), 1000);
        assert!(tally.error_summary().contains("HTTP 500"));
    }

    #[test]
    fn reads_own_cpu_and_memory() {
        assert!(cpu_ticks(None).is_some());
        assert!(peak_rss_mib().is_some_and(|m| m > 0.0));
    }
}
