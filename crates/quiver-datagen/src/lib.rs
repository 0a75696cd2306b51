//! quiver-datagen: deterministic sample data for the example feature repo.
//!
//! One generator per table ([`driver_rows`], [`customer_rows`]) yields rows lazily; two
//! sinks consume them: Parquet files ([`generate_parquet`]) and a Postgres table
//! ([`load_postgres`], driver_stats only). The same [`GenerateOptions`] always give the
//! same values.

mod batches;
mod customer_rows;
mod driver_rows;
mod error;
mod options;
mod parquet_sink;
mod postgres_sink;
mod rows;

use std::path::{Path, PathBuf};

pub use batches::{
    BATCH_ROWS, customer_profile_batch, customer_profile_schema, driver_stats_batch,
    driver_stats_schema,
};
pub use customer_rows::{CustomerRow, CustomerRows, customer_id, customer_rows};
pub use driver_rows::{DriverRow, DriverRows, FIRST_DRIVER_ID, driver_rows};
pub use error::DatagenError;
pub use options::GenerateOptions;
pub use postgres_sink::quote_table_name;

/// File name of the driver_stats table inside the output directory.
pub const DRIVER_STATS_FILE: &str = "driver_stats.parquet";
/// File name of the customer_profile table inside the output directory.
pub const CUSTOMER_PROFILE_FILE: &str = "customer_profile.parquet";

/// What [`generate_parquet`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateReport {
    /// Each file written, with its row count.
    pub files: Vec<(PathBuf, u64)>,
}

/// Writes `driver_stats.parquet` and `customer_profile.parquet` into `out_dir` (created if missing).
pub fn generate_parquet(
    out_dir: &Path,
    opts: &GenerateOptions,
) -> Result<GenerateReport, DatagenError> {
    // Check both tables' options before touching the file system.
    let drivers = driver_rows(opts)?;
    let customers = customer_rows(opts)?;
    std::fs::create_dir_all(out_dir).map_err(|e| DatagenError::io(out_dir, e))?;

    let driver_path = out_dir.join(DRIVER_STATS_FILE);
    let driver_count = parquet_sink::write_parquet(
        &driver_path,
        driver_stats_schema(),
        drivers,
        driver_stats_batch,
    )?;
    let customer_path = out_dir.join(CUSTOMER_PROFILE_FILE);
    let customer_count = parquet_sink::write_parquet(
        &customer_path,
        customer_profile_schema(),
        customers,
        customer_profile_batch,
    )?;
    Ok(GenerateReport {
        files: vec![(driver_path, driver_count), (customer_path, customer_count)],
    })
}

/// Replaces the Postgres table `table` (`name` or `schema.name`) with the driver_stats rows
/// of `opts`, the same rows [`generate_parquet`] writes; returns the row count.
pub async fn load_postgres(
    url: &str,
    table: &str,
    opts: &GenerateOptions,
) -> Result<u64, DatagenError> {
    postgres_sink::load_driver_stats(url, table, driver_rows(opts)?).await
}
