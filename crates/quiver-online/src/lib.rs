//! quiver's online tier: the latest feature values per entity, for low-latency
//! lookup.
//!
//! One trait, [`OnlineStore`], two implementations with the same semantics:
//! - [`RedisStore`]: the production store (single node or Redis Cluster). One hash
//!   per (project, entity key) holds every view's features plus each view's event and
//!   created timestamps; every write goes through a Lua guard script that drops rows
//!   older than the stored one, atomically on the server.
//! - [`EmbeddedStore`]: a local redb file, the default when `quiver.yaml` names no
//!   Redis, so the quick start needs no services.
//!
//! Values are stored in a compact binary [`codec`], not as JSON.

pub mod codec;
mod embedded;
mod error;
mod key;
mod model;
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
