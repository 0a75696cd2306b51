//! Batch materialization into the offline store: source rows of a window,
//! converted to the view's layout, written in place of what the window held.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;

use crate::error::Result;
use crate::source::read_source;
use crate::store::{OfflineStore, WindowInspector};
use crate::view_schema::ViewSchema;
use crate::window::TimeWindow;

#[derive(Debug, Clone, PartialEq)]
pub struct MaterializeOutcome {
    pub view: String,
    pub window: TimeWindow,
    /// Rows read from the source (all of them are written).
    pub rows: u64,
    /// Rows earlier runs had stored for this window, now replaced.
    pub rows_replaced: u64,
    pub files: Vec<PathBuf>,
    pub duration: Duration,
}

/// Copies `view`'s source rows with event time in `window` that `inspector`
/// keeps into the offline store.
pub async fn materialize_view(
    ctx: &SessionContext,
    store: &OfflineStore,
    repo_root: &Path,
    view: &ViewSchema,
    window: TimeWindow,
    on_rows: impl FnMut(u64),
    inspector: &mut dyn WindowInspector,
) -> Result<MaterializeOutcome> {
    let started = Instant::now();
    let stream = read_source(ctx, view, repo_root, window).await?;
    let stats = store
        .write_window(view, stream, window, on_rows, inspector)
        .await?;
    Ok(MaterializeOutcome {
        view: view.name().to_string(),
        window,
        rows: stats.rows_written,
        rows_replaced: stats.rows_replaced,
        files: stats.files,
        duration: started.elapsed(),
    })
}
