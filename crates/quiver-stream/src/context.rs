//! Hooks into the Kafka client: rebalances (to drop batches whose partitions
//! moved) and statistics (consumer lag).

use std::sync::atomic::{AtomicU64, Ordering};

use quiver_store::IngestStats;
use rdkafka::TopicPartitionList;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;

pub struct IngestContext {
    stats: IngestStats,
    /// Bumped on every revocation and assignment.
    generation: AtomicU64,
}

impl IngestContext {
    pub fn new(stats: IngestStats) -> Self {
        IngestContext {
            stats,
            generation: AtomicU64::new(0),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

impl ClientContext for IngestContext {
    fn stats(&self, statistics: Statistics) {
        self.stats.update(|s| {
            s.lag.clear();
            for (topic, t) in &statistics.topics {
                for (partition, p) in &t.partitions {
                    // -1: not known yet; partition -1 is librdkafka's internal UA partition.
                    if *partition >= 0 && p.consumer_lag >= 0 {
                        s.lag.insert(format!("{topic}/{partition}"), p.consumer_lag);
                    }
                }
            }
            s.total_lag = s.lag.values().sum();
        });
    }
}

impl ConsumerContext for IngestContext {
    /// Batches commit asynchronously; a commit the broker refuses is said, and
    /// its offsets are covered by the next one (or replayed after a restart).
    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(error) = result {
            tracing::warn!(%error, "offset commit failed");
            self.stats.update(|s| s.commit_errors += 1);
        }
    }

    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            tracing::info!(partitions = partitions.count(), "partitions revoked");
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                tracing::info!(partitions = partitions.count(), "partitions assigned");
                self.generation.fetch_add(1, Ordering::SeqCst);
                self.stats.update(|s| s.rebalances += 1);
            }
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance failed"),
            Rebalance::Revoke(_) => {}
        }
    }
}
