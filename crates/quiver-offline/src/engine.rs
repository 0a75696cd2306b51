//! The DataFusion session the offline tier runs on, with a bounded memory pool
//! that spills sorts to disk instead of growing with the data.

use std::path::Path;
use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::Result;

/// Memory the offline tier may use for sorts and joins before spilling.
pub const DEFAULT_MEMORY_LIMIT: usize = 2 << 30;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub memory_limit: usize,
    pub batch_size: usize,
    pub target_partitions: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            batch_size: 8192,
            target_partitions: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }
}

/// A session whose sorts spill to `spill_dir` once `memory_limit` is reached.
pub fn session(config: &EngineConfig, spill_dir: &Path) -> Result<SessionContext> {
    let disk = DiskManagerBuilder::default()
        .with_mode(DiskManagerMode::Directories(vec![spill_dir.to_path_buf()]));
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(config.memory_limit)))
        .with_disk_manager_builder(disk)
        .build_arc()?;
    // DataFusion's own `DATAFUSION_*` variables tune what quiver leaves at
    // DataFusion's defaults (e.g. `DATAFUSION_EXECUTION_PARQUET_PUSHDOWN_FILTERS`).
    let session_config = SessionConfig::from_env()?
        .with_batch_size(config.batch_size)
        .with_target_partitions(config.target_partitions);
    Ok(SessionContext::new_with_config_rt(session_config, runtime))
}
