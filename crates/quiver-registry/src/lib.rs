//! quiver's registry: the applied definitions of each project with a content
//! hash and a full version history, on SQLite (embedded default) or Postgres.
//! The schema lives in `migrations/` and is applied on connect.

mod error;
mod lineage;
mod location;
mod model;
mod registry;
mod stream_windows;

pub use error::{RegistryError, Result};
pub use lineage::{
    FeatureStatistics, MaterializationRun, RUN_ABANDONED_AFTER, RUN_HEARTBEAT_EVERY, RunResult,
    SavedDataset,
};
pub use location::{Backend, RegistryLocation};
pub use model::{ApplyOutcome, ObjectVersion, RegistryVersion, StoredObject};
pub use registry::Registry;
pub use stream_windows::StreamWindowRecord;
