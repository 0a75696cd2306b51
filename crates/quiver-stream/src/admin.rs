//! Creating topics that do not exist yet (some brokers do not auto-create).

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::error::{Result, StreamError};

/// Creates each of `topics` with `partitions` partitions unless it exists.
pub async fn ensure_topics(
    bootstrap_servers: &str,
    topics: &[&str],
    partitions: i32,
    properties: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap_servers);
    for (name, value) in properties {
        config.set(name, value);
    }
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    // The cluster's default replication (-1) where the broker allows it, else 1.
    let mut last_error = None;
    for replication in [-1, 1] {
        let new: Vec<NewTopic> = topics
            .iter()
            .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replication)))
            .collect();
        last_error = None;
        for result in admin.create_topics(&new, &options).await? {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    last_error = Some(format!("cannot create topic `{topic}`: {code}"))
                }
            }
        }
        if last_error.is_none() {
            break;
        }
    }
    if let Some(message) = last_error {
        return Err(StreamError::Config(message));
    }
    Ok(())
}
