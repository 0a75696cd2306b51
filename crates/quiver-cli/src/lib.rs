//! The `quiver` command line as a library; the binary only calls [`main`].

mod args;
mod commands;
mod context;
mod error;
mod output;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
pub use error::{CliError, exit};

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            for line in error.lines() {
                eprintln!("{line}");
            }
            error.exit_code()
        }
    }
}

/// Runs one parsed command.
pub async fn run(cli: &Cli) -> Result<(), CliError> {
    use args::Command;
    let global = &cli.global;
    match &cli.command {
        Command::Init(args) => commands::init::run(global, args),
        Command::Plan => commands::apply::run(global, false).await,
        Command::Apply => commands::apply::run(global, true).await,
        Command::Teardown => commands::teardown::run(global).await,
        Command::List(args) => commands::list::run(global, args).await,
        Command::Describe(args) => commands::describe::run(global, args).await,
        Command::Materialize(args) => commands::materialize::run(global, args).await,
        Command::MaterializeIncremental(args) => {
            commands::materialize::run_incremental(global, args).await
        }
        Command::Historical(args) => commands::historical::run(global, args).await,
        Command::Online(args) => commands::online::run(global, args).await,
        Command::Serve(args) => commands::serve::run(global, args).await,
        Command::Ingest(args) => commands::ingest::run(global, args).await,
        Command::Token(args) => commands::token::run(global, args),
        Command::Stats(args) => commands::stats::run(global, args).await,
        Command::Drift(args) => commands::drift::run(global, args).await,
        Command::Lineage(args) => commands::lineage::run(global, args).await,
        Command::ImportFeast(args) => commands::import_feast::run(global, args),
    }
}

/// Logs go to stderr, filtered by `QUIVER_LOG` (default: warnings).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUIVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
