//! One module per subcommand.

pub mod apply;
pub mod describe;
pub mod drift;
pub mod historical;
pub mod import_feast;
pub mod ingest;
pub mod init;
pub mod lineage;
pub mod list;
pub mod materialize;
pub mod online;
pub mod serve;
pub mod stats;
pub mod teardown;
pub mod token;
