//! The one trait both online stores implement.

use crate::error::Result;
use crate::key::EntityKey;
use crate::model::{OnlineRow, ReadView, ViewMeta, ViewValues, WriteReport};

/// An online store: the latest row per (view, entity key), event-time guarded.
///
/// The contract: the stored row of `(view, key)` is the one with the greatest
/// `(event_ts, created_ts)` seen so far from any writer (`created_ts = None` ranks
/// lowest); a write with an older pair is dropped; an equal pair overwrites (replays
/// are harmless).
#[async_trait::async_trait]
pub trait OnlineStore: Send + Sync {
    /// Writes rows of one view, event-time guarded per row (atomic per entity key),
    /// pipelined/batched. Rows are applied in order, so a later duplicate key in the
    /// same call competes with the earlier one like any other writer. On an error
    /// some rows may already be stored (each row is atomic, the call is not);
    /// writing the same rows again is safe.
    async fn write(&self, view: &ViewMeta, rows: &[OnlineRow]) -> Result<WriteReport>;

    /// Reads many entity keys for several views in one round trip, judged against
    /// `now_us` for TTL. `result[i][j]` answers `keys[i]` for `views[j]`.
    async fn read(
        &self,
        keys: &[EntityKey],
        views: &[ReadView],
        now_us: i64,
    ) -> Result<Vec<Vec<ViewValues>>>;

    /// Removes every key of the project (teardown); returns how many entries went
    /// (Redis: entity hashes; embedded: (entity, view) rows).
    async fn clear(&self) -> Result<u64>;

    /// Checks the store answers (for readiness).
    async fn ping(&self) -> Result<()>;
}
