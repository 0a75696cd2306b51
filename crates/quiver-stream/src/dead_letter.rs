//! Bad messages, kept: copied to the dead-letter topic with why in headers.

use std::time::Duration;

use futures::future::try_join_all;
use quiver_store::Rejected;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::error::Result;
use crate::pending::Partition;

/// The reason (`not_json`, `missing_key`, ...).
pub const REASON_HEADER: &str = "quiver-error-reason";
/// What exactly was wrong.
pub const DETAIL_HEADER: &str = "quiver-error-detail";
/// Where the message came from: `topic/partition/offset`.
pub const SOURCE_HEADER: &str = "quiver-source";

/// One refused message.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    /// The message's partition and offset (dead letters go out in this order).
    pub position: (Partition, i64),
    pub rejected: Rejected,
}

impl DeadLetter {
    /// `topic/partition/offset`, for the source header.
    fn source(&self) -> String {
        let ((topic, partition), offset) = &self.position;
        format!("{topic}/{partition}/{offset}")
    }
}

/// Sends every dead letter and waits until the broker has them all.
pub async fn send_all(
    producer: &FutureProducer,
    topic: &str,
    letters: &[DeadLetter],
) -> Result<()> {
    let sends = letters.iter().map(|letter| async move {
        let source = letter.source();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: REASON_HEADER,
                value: Some(letter.rejected.reason.as_str()),
            })
            .insert(Header {
                key: DETAIL_HEADER,
                value: Some(&letter.rejected.detail),
            })
            .insert(Header {
                key: SOURCE_HEADER,
                value: Some(&source),
            });
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
        if let Some(key) = &letter.key {
            record = record.key(key.as_slice());
        }
        if let Some(payload) = &letter.payload {
            record = record.payload(payload.as_slice());
        }
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map(|_| ())
            .map_err(|(error, _)| error)
    });
    try_join_all(sends).await?;
    Ok(())
}
