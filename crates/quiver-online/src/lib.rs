//! quiver's online tier: the latest feature values per entity, for low-latency
//! lookup.
//!
//! One trait, [`OnlineStore`], two implementations with the same semantics:
//! - [`RedisStore`]: the production store (single node or Redis Cluster). One hash
//!   per (project, entity key) holds one field per view: the view's row as one
//!   record (event and created times, every feature). Writes go through a Lua guard
//!   script, a batch of rows per call, that drops rows older than the stored one,
//!   atomically on the server.
//! - [`EmbeddedStore`]: a local redb file, the default when `quiver.yaml` names no
//!   Redis, so the quick start needs no services.
//!
//! Both stores keep the same record (`record.rs`), its values in a compact binary
//! [`codec`], not as JSON.

pub mod codec;
mod embedded;
mod error;
mod key;
mod model;
mod record;
mod redis;
mod store;
mod value;

pub use embedded::{EMBEDDED_FILE_NAME, EmbeddedStore};
pub use error::{OnlineError, Result};
pub use key::EntityKey;
pub use model::{
    MAX_TIMESTAMP_US, OnlineRow, ReadView, Status, ViewMeta, ViewValues, WriteReport, now_us,
};
pub use redis::{RedisOptions, RedisStore};
pub use store::OnlineStore;
pub use value::Value;
