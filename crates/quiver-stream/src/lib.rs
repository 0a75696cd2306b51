//! quiver's Kafka ingest: one consumer-group worker for every view with a
//! Kafka stream source. Messages are decoded and type-checked against their
//! views, written in micro-batches to the online store (event-time guarded) and
//! appended to the offline store, and their offsets committed only after both
//! writes: at-least-once delivery made effectively exactly-once by the guard
//! online and by offset-named files offline. Bad messages go to a dead-letter
//! topic with the reason in a header; the worker goes on.

mod admin;
mod client;
mod context;
mod dead_letter;
mod error;
mod pending;
mod routes;
mod worker;

pub use admin::ensure_topics;
pub use dead_letter::{DETAIL_HEADER, REASON_HEADER, SOURCE_HEADER};
pub use error::StreamError;
pub use routes::Routes;
pub use worker::{IngestOptions, run_ingest};
