use quiver_store::StoreError;
use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The definitions or the configuration do not allow an ingest.
    #[error("{0}")]
    Config(String),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Offline(#[from] quiver_offline::OfflineError),
    /// A blocking task of the worker could not run.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = StreamError> = std::result::Result<T, E>;
