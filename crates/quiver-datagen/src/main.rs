//! `quiver-datagen`: writes the example feature repo's sample data (and optionally loads Postgres).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Parser;
use quiver_datagen::{GenerateOptions, generate_parquet, load_postgres, quote_table_name};

/// Deterministic sample data for the quiver example feature repo.
#[derive(Debug, Parser)]
#[command(name = "quiver-datagen", version)]
struct Args {
    /// Directory for driver_stats.parquet and customer_profile.parquet.
    #[arg(long, value_name = "DIR", default_value = "feature_repo/data")]
    out: PathBuf,
    /// Number of drivers [default: 100].
    #[arg(long, value_name = "N")]
    drivers: Option<usize>,
    /// Number of customers [default: 200].
    #[arg(long, value_name = "N")]
    customers: Option<usize>,
    /// Hourly rows per driver [default: 72].
    #[arg(long, value_name = "N")]
    hours: Option<usize>,
    /// Daily rows per customer [default: 14].
    #[arg(long, value_name = "N")]
    days: Option<usize>,
    /// Last event time, RFC 3339 [default: now, truncated to the hour].
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    end: Option<DateTime<Utc>>,
    /// Random seed; the same options always give the same data [default: 42].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Also load driver_stats into this Postgres database.
    #[arg(long, value_name = "URL")]
    postgres_url: Option<String>,
    /// Table for --postgres-url (`name` or `schema.name`); replaced if it exists.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "driver_stats",
        requires = "postgres_url"
    )]
    postgres_table: String,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2024-01-01T00:00:00Z)"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the underlying error's formatting.
            let message = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let defaults = GenerateOptions::default();
    let opts = GenerateOptions {
        drivers: args.drivers.unwrap_or(defaults.drivers),
        customers: args.customers.unwrap_or(defaults.customers),
        hours: args.hours.unwrap_or(defaults.hours),
        days: args.days.unwrap_or(defaults.days),
        end: args.end.unwrap_or(defaults.end),
        seed: args.seed.unwrap_or(defaults.seed),
    };
    if args.postgres_url.is_some() {
        // Reject a bad table name before writing anything.
        quote_table_name(&args.postgres_table)?;
    }
    let report = generate_parquet(&args.out, &opts)?;
    for (path, rows) in &report.files {
        println!("{}: {rows} rows", path.display());
    }
    if let Some(url) = &args.postgres_url {
        // The runtime is only needed for Postgres, so only built for it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let rows = runtime.block_on(load_postgres(url, &args.postgres_table, &opts))?;
        println!("postgres table {}: {rows} rows", args.postgres_table);
    }
    Ok(())
}
