//! `quiver init DIR`: a working copy of the example feature repo with fresh sample data.

use std::path::{Path, PathBuf};

use quiver_datagen::{GenerateOptions, generate_parquet};
use serde::Serialize;

use crate::args::{GlobalArgs, InitArgs};
use crate::error::{CliError, CliResult};
use crate::output::print_json;

/// The example repo's files, compiled in so `init` works from an installed binary.
const TEMPLATE: [(&str, &str); 4] = [
    (
        "quiver.yaml",
        include_str!("../../../../feature_repo/quiver.yaml"),
    ),
    (
        "driver.yaml",
        include_str!("../../../../feature_repo/driver.yaml"),
    ),
    (
        "customer.yaml",
        include_str!("../../../../feature_repo/customer.yaml"),
    ),
    (
        ".gitignore",
        include_str!("../../../../feature_repo/.gitignore"),
    ),
];

#[derive(Serialize)]
struct InitReport {
    repo: PathBuf,
    files: Vec<PathBuf>,
    data: Vec<DataFile>,
}

#[derive(Serialize)]
struct DataFile {
    path: PathBuf,
    rows: u64,
}

pub fn run(global: &GlobalArgs, args: &InitArgs) -> CliResult {
    let dir = &args.dir;
    ensure_usable(dir, args.force)?;
    let io = |path: &Path, e: std::io::Error| {
        CliError::Internal(format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut files = Vec::new();
    for (name, text) in TEMPLATE {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        files.push(path);
    }

    let options = GenerateOptions {
        drivers: args.drivers,
        customers: args.customers,
        hours: args.hours,
        days: args.days,
        seed: args.seed,
        ..GenerateOptions::default()
    };
    let report = generate_parquet(&dir.join("data"), &options)
        .map_err(|e| CliError::Internal(format!("cannot generate sample data: {e}")))?;
    let data: Vec<DataFile> = report
        .files
        .into_iter()
        .map(|(path, rows)| DataFile { path, rows })
        .collect();

    if global.json {
        return print_json(&InitReport {
            repo: dir.clone(),
            files,
            data,
        });
    }
    println!("Created feature repo {}", dir.display());
    for file in &files {
        println!("  {}", file.display());
    }
    for file in &data {
        println!("  {} ({} rows)", file.path.display(), file.rows);
    }
    println!("Next: quiver --repo {} apply", dir.display());
    Ok(())
}

/// Refuses to scribble over an existing project unless told to.
fn ensure_usable(dir: &Path, force: bool) -> CliResult {
    let occupied = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(CliError::User(format!("cannot use {}: {e}", dir.display()))),
    };
    if occupied && !force {
        return Err(CliError::User(format!(
            "{} is not empty; choose a new directory or pass --force to overwrite the example files",
            dir.display()
        )));
    }
    Ok(())
}
