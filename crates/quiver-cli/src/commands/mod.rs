//! One module per subcommand.

pub mod apply;
pub mod describe;
pub mod init;
pub mod list;
pub mod teardown;
