//! Bad messages, kept: copied to the dead-letter topic with why in headers.

use std::time::Duration;

use futures::future::try_join_all;
use quiver_store::Rejected;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::error::Result;

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
    pub source: String,
    pub rejected: Rejected,
}

/// Sends every dead letter and waits until the broker has them all.
pub async fn send_all(
    producer: &FutureProducer,
    topic: &str,
    letters: &[DeadLetter],
) -> Result<()> {
    let sends = letters.iter().map(|letter| async move {
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
                value: Some(&letter.source),
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
