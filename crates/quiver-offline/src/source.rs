//! A view's batch source as a stream of canonical batches.

use std::path::Path;

use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use quiver_core::SourceKind;

use crate::error::{OfflineError, Result};
use crate::parquet_source::read_parquet_source;
use crate::postgres_source::read_postgres_source;
use crate::view_schema::ViewSchema;
use crate::window::TimeWindow;

/// The rows of `view`'s batch source with event time in `window`.
pub async fn read_source(
    ctx: &SessionContext,
    view: &ViewSchema,
    repo_root: &Path,
    window: TimeWindow,
) -> Result<SendableRecordBatchStream> {
    match &view.source.kind {
        SourceKind::Parquet { .. } => Ok(read_parquet_source(ctx, view, repo_root, window)
            .await?
            .execute_stream()
            .await?),
        SourceKind::Postgres { .. } => read_postgres_source(view, window).await,
        other => Err(OfflineError::Config(format!(
            "source `{}` is a {} source; only parquet and postgres sources can be materialized",
            view.source.name,
            other.name()
        ))),
    }
}
