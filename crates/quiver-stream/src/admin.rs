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
    // Replication 1 works on a single broker; clusters apply their default when -1 is allowed.
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    for result in admin.create_topics(&new, &options).await? {
        match result {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(StreamError::Config(format!(
                    "cannot create topic `{topic}`: {code}"
                )));
            }
        }
    }
    Ok(())
}
