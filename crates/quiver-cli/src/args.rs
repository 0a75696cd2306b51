//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// quiver: a feature store with an offline (Parquet, DataFusion) and an online (Redis) tier.
#[derive(Debug, Parser)]
#[command(name = "quiver", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The feature repo (the directory holding quiver.yaml).
    #[arg(long, global = true, env = "QUIVER_REPO", default_value = ".")]
    pub repo: PathBuf,
    /// Use this registry instead of the one in quiver.yaml (sqlite://PATH or postgres://...).
    #[arg(long, global = true, env = "QUIVER_REGISTRY", hide_env_values = true)]
    pub registry: Option<String>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new feature repo with example definitions and generated sample data.
    Init(InitArgs),
    /// Show what `apply` would change in the registry, field by field; writes nothing.
    Plan,
    /// Validate the repo, check it against its sources and register it (one transaction).
    Apply,
    /// Remove every definition of the project from the registry (history is kept).
    Teardown,
    /// List the registered objects of one kind.
    List(ListArgs),
    /// Show one registered object: its definition, version and history.
    Describe(DescribeArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create (must be empty or absent).
    pub dir: PathBuf,
    /// Write into a non-empty directory, replacing the example files.
    #[arg(long)]
    pub force: bool,
    /// Drivers in the sample data.
    #[arg(long, default_value_t = 100)]
    pub drivers: usize,
    /// Customers in the sample data.
    #[arg(long, default_value_t = 200)]
    pub customers: usize,
    /// Hourly rows per driver, ending at the current hour.
    #[arg(long, default_value_t = 72)]
    pub hours: usize,
    /// Daily rows per customer, ending at the current hour.
    #[arg(long, default_value_t = 14)]
    pub days: usize,
    /// Seed of the sample data generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListKind {
    Entities,
    Sources,
    #[value(alias = "feature-views")]
    Views,
    #[value(alias = "feature-services")]
    Services,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    pub kind: ListKind,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The name of an entity, source, feature view or feature service.
    pub name: String,
}
