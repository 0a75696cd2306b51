//! quiver's offline tier: batch sources read into Arrow (Parquet through
//! DataFusion, Postgres through sqlx), the offline store of materialized rows,
//! and point-in-time joins that build leak-free training sets from it.

mod check;
mod engine;
mod error;
pub mod formats;
mod latest;
mod lock;
mod materialize;
mod parquet_check;
mod parquet_columns;
mod parquet_files;
mod parquet_source;
pub mod pit;
mod postgres_source;
mod retired;
mod scan;
mod schema;
mod sort_check;
mod source;
mod store;
mod stream_files;
mod table_rows;
pub mod text_times;
mod types;
mod view_schema;
mod window;

pub use check::{SourceCheck, UnreadableSource, check_sources};
pub use engine::{EngineConfig, session};
pub use error::{OfflineError, Result};
pub use latest::latest_per_key;
pub use materialize::{MaterializeOutcome, materialize_view};
pub use parquet_check::{check_parquet, check_parquet_file};
pub use parquet_files::{ParquetFile, list_parquet_files};
pub use scan::{in_window, scan_view};
pub use schema::{SourceColumn, StoredType, inspect_source, quote_table};
pub use source::read_source;
pub use store::{
    FileOrigin, OfflineStore, StoreEverything, StoredFile, WindowInspector, WriteStats,
};
pub use stream_files::{CompactScope, STREAM_FILES_PER_DAY, push_id};
pub use table_rows::{TableRows, slices};
pub use types::{arrow_type_fits, postgres_type_fits};
pub use view_schema::{CREATED_TS, EVENT_TS, ViewSchema, arrow_type, timestamp_type};
pub use window::{TimeWindow, parse_instant, parse_timestamp};
