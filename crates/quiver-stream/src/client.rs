//! Kafka clients configured for the ingest.

use quiver_core::KafkaConfig;
use rdkafka::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureProducer;

use crate::context::IngestContext;
use crate::error::{Result, StreamError};

/// A client that cannot be created has a bad setting (`kafka.properties`).
fn bad_config(error: rdkafka::error::KafkaError) -> StreamError {
    StreamError::Config(format!("invalid Kafka client settings: {error}"))
}

/// A consumer in the project's group: manual commits, from the earliest offset
/// when the group has none, eager rebalances (a revoked batch is replayed by
/// the next owner from the committed offset).
pub fn consumer(
    kafka: &KafkaConfig,
    context: IngestContext,
) -> Result<StreamConsumer<IngestContext>> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", &kafka.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "range")
        .set("statistics.interval.ms", "1000")
        // A crashed worker's partitions move to the others within 10 s.
        .set("session.timeout.ms", "10000")
        // Freshness: an idle fetch is answered within 5 ms (brokers answer at
        // once when data is there; tansu always waits this long).
        .set("fetch.wait.max.ms", "5");
    for (name, value) in &kafka.properties {
        config.set(name, value);
    }
    config.create_with_context(context).map_err(bad_config)
}

/// The dead-letter producer: acknowledged by all replicas before the offset moves on.
pub fn producer(kafka: &KafkaConfig) -> Result<FutureProducer> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("acks", "all")
        .set("linger.ms", "5");
    for (name, value) in &kafka.properties {
        config.set(name, value);
    }
    config.create().map_err(bad_config)
}
