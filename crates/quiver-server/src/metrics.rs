//! Prometheus metrics (`GET /metrics`): request latency per route, method and
//! status; open connections and those closed by a timeout; rows materialized
//! per view; the Kafka ingest's counters and lag.
//!
//! Every label's values come from a set the server knows (its routes, the
//! standard methods, its views), never from what a client sends, so the
//! metrics stay the same size whatever requests arrive.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use quiver_store::{IngestStats, RunReport};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// The label of a request's method: one of the standard methods, else `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TimeoutLabels {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViewLabels {
    view: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// The ingest's counters, copied from its [`IngestStats`] at each scrape.
#[derive(Default)]
struct IngestGauges {
    messages: Gauge<u64, AtomicU64>,
    committed: Gauge<u64, AtomicU64>,
    rows_online: Gauge<u64, AtomicU64>,
    rows_offline: Gauge<u64, AtomicU64>,
    retries: Gauge<u64, AtomicU64>,
    commit_errors: Gauge<u64, AtomicU64>,
    rejected: Family<ReasonLabels, Gauge<u64, AtomicU64>>,
    check_violations: Family<CheckLabels, Gauge<u64, AtomicU64>>,
    lag: Family<PartitionLabels, Gauge>,
}

pub struct Metrics {
    registry: Registry,
    requests: LatencyFamily,
    connections: Gauge,
    timed_out: Family<TimeoutLabels, Counter>,
    materialized_rows: Family<ViewLabels, Counter>,
    check_violations: Family<CheckLabels, Counter>,
    ingest: IngestGauges,
}

/// One data-quality check of one view, and its policy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    view: String,
    check: String,
    policy: String,
}

impl CheckLabels {
    fn of(view: &str, count: &quiver_store::CheckCount) -> Self {
        Self {
            view: view.to_string(),
            check: count.check.clone(),
            policy: count.policy.as_str().to_string(),
        }
    }
}

/// One open connection in the gauge.
pub(crate) struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    // 50 µs to ~6.5 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("quiver");
        let requests: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route, method and status",
            requests.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "http_connections",
            "Open HTTP connections (TLS handshakes included)",
            connections.clone(),
        );
        let timed_out = Family::<TimeoutLabels, Counter>::default();
        registry.register(
            "http_connections_timed_out",
            "Connections the server closed because a client was too slow, by phase (idle, header, body)",
            timed_out.clone(),
        );
        let materialized_rows = Family::<ViewLabels, Counter>::default();
        registry.register(
            "materialized_rows",
            "Rows materialized into the offline store through this server, by view",
            materialized_rows.clone(),
        );
        let check_violations = Family::<CheckLabels, Counter>::default();
        registry.register(
            "check_violations",
            "Rows that violated a data-quality check in materializations and pushes through this server, by view, check and policy",
            check_violations.clone(),
        );
        let ingest = IngestGauges::default();
        let gauges: [(&str, &str, &Gauge<u64, AtomicU64>); 6] = [
            (
                "ingest_messages",
                "Kafka messages consumed",
                &ingest.messages,
            ),
            (
                "ingest_committed_messages",
                "Kafka messages written and committed",
                &ingest.committed,
            ),
            (
                "ingest_rows_online",
                "Rows the ingest wrote online",
                &ingest.rows_online,
            ),
            (
                "ingest_rows_offline",
                "Rows the ingest appended offline",
                &ingest.rows_offline,
            ),
            (
                "ingest_retries",
                "Failed write or commit attempts of the ingest (retried)",
                &ingest.retries,
            ),
            (
                "ingest_commit_errors",
                "Offset commits the broker refused",
                &ingest.commit_errors,
            ),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "ingest_rejected_messages",
            "Bad Kafka messages sent to the dead-letter topic, by reason",
            ingest.rejected.clone(),
        );
        registry.register(
            "ingest_check_violations",
            "Data-quality check violations in the ingest's committed batches, by view, check and policy",
            ingest.check_violations.clone(),
        );
        registry.register(
            "ingest_consumer_lag",
            "Messages behind the end of each partition",
            ingest.lag.clone(),
        );
        Metrics {
            registry,
            requests,
            connections,
            timed_out,
            materialized_rows,
            check_violations,
            ingest,
        }
    }

    /// `route` is a routed path or `unmatched`; `method` a [`method_label`].
    pub fn observe_request(
        &self,
        route: &str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method,
                status,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a connection as open until the guard is dropped.
    pub(crate) fn connection_opened(&self) -> OpenConnection {
        self.connections.inc();
        OpenConnection(self.connections.clone())
    }

    pub(crate) fn connection_timed_out(&self, phase: &'static str) {
        self.timed_out.get_or_create(&TimeoutLabels { phase }).inc();
    }

    pub fn observe_materialization(&self, reports: &[RunReport]) {
        for report in reports {
            self.materialized_rows
                .get_or_create(&ViewLabels {
                    view: report.view.clone(),
                })
                .inc_by(report.rows);
            self.observe_checks(&report.view, &report.checks);
        }
    }

    pub fn observe_checks(&self, view: &str, checks: &[quiver_store::CheckCount]) {
        for count in checks {
            self.check_violations
                .get_or_create(&CheckLabels::of(view, count))
                .inc_by(count.violations);
        }
    }

    /// The OpenMetrics text of every metric, the ingest's read from `ingest`.
    pub fn render(&self, ingest: Option<&IngestStats>) -> String {
        if let Some(stats) = ingest {
            let s = stats.snapshot();
            let g = &self.ingest;
            g.messages.set(s.messages);
            g.committed.set(s.committed_messages);
            g.rows_online.set(s.rows.online);
            g.rows_offline.set(s.rows.offline);
            g.retries.set(s.retries);
            g.commit_errors.set(s.commit_errors);
            for (reason, count) in &s.rejected {
                g.rejected
                    .get_or_create(&ReasonLabels {
                        reason: reason.as_str().to_string(),
                    })
                    .set(*count);
            }
            for (view, counts) in &s.checks {
                for count in counts {
                    g.check_violations
                        .get_or_create(&CheckLabels::of(view, count))
                        .set(count.violations);
                }
            }
            g.lag.clear();
            for (partition, lag) in &s.lag {
                g.lag
                    .get_or_create(&PartitionLabels {
                        partition: partition.clone(),
                    })
                    .set(*lag);
            }
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
