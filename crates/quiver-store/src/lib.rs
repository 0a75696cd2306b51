//! The feature store as the CLI and the HTTP server see it: one project's
//! config, registry and applied definitions, and the operations on them
//! (materialization runs, training sets with lineage).

mod drift;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod heartbeat;
mod ingest;
mod lineage;
mod materialize;
mod online;
mod pull;
mod quality;
mod stats_thread;
mod store;
mod time;
mod training;

pub use drift::{Baseline, DriftReport, parse_window};
pub use error::{ErrorClass, Result, StoreError};
pub use ingest::{
    DEFAULT_STREAM_WINDOW, IngestSnapshot, IngestStats, IngestView, PushOutcome, PushRequest,
    RejectReason, Rejected, RowDecoder, RowsWritten, StatsSource, StreamPath, WriteRequest,
    WriteTarget,
};
pub use lineage::{DatasetLineage, ViewInDataset, ViewLineage};
pub use materialize::RunReport;
pub use online::{
    AnswerValue, EventTime, FeastAnswers, OnlineAnswer, OnlineRequest, OnlineResponse,
    OnlineResult, OnlineWrite, arrow_value, json_value, key_from_json,
};
pub use pull::PullRequest;
pub use quiver_quality::checks::{CheckCount, add_counts};
pub use quiver_registry::FeatureStatistics;
pub use store::{Applied, FeatureStore};
pub use time::rfc3339;
pub use training::TrainingSet;
