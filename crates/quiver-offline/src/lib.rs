//! quiver's offline tier. So far: finding a batch source's files and reading
//! its schema (Parquet footers, Postgres statement descriptions), and checking
//! feature views against it at `apply`.

mod check;
mod error;
mod parquet_files;
mod schema;
mod types;

pub use check::{SourceCheck, UnreadableSource, check_sources};
pub use error::OfflineError;
pub use parquet_files::{ParquetFile, list_parquet_files};
pub use schema::{SourceColumn, StoredType, inspect_source, quote_table};
pub use types::{arrow_type_fits, postgres_type_fits};
