//! `quiver import-feast REGISTRY`: a Feast project's definitions as a quiver
//! repo. REGISTRY is what `feast registry-dump` prints, or Feast's registry
//! file; what quiver cannot express is named, one line per object, and left
//! out, and the rest is written.
//!
//! The definitions go to one file per kind (entities.yaml, sources.yaml,
//! feature_views.yaml, feature_services.yaml): quiver resolves references
//! across files, a reviewer finds every type or every source in one place,
//! and a second import with --force replaces exactly what the first wrote.

mod convert;
mod dump;
mod feast_config;
mod input;
mod model;
mod proto;
mod services;
mod sources;
mod types;
mod views;
mod write;
mod yaml;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use serde::Serialize;

use crate::args::{GlobalArgs, ImportFeastArgs};
use crate::error::CliResult;
use crate::output::print_json;
use convert::{Context, Note};
use input::Format;

#[derive(Serialize)]
struct Report {
    feast_project: String,
    project: String,
    format: Format,
    feast_repo: PathBuf,
    out: PathBuf,
    files: Vec<WrittenFile>,
    not_converted: Vec<Note>,
}

#[derive(Serialize)]
struct WrittenFile {
    path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    objects: Option<usize>,
}

pub fn run(global: &GlobalArgs, args: &ImportFeastArgs) -> CliResult {
    let (registry, format) = input::read(&args.input, args.project.as_deref())?;
    let feast_repo = match &args.feast_repo {
        Some(dir) => input::absolute(dir)?,
        None => input::default_feast_repo(&args.input)?,
    };
    let out_dir = input::absolute(args.out.as_ref().unwrap_or(&global.repo))?;
    let context = Context {
        postgres: feast_config::postgres_defaults(&feast_repo),
        feast_repo,
        out_dir,
    };
    let conversion = convert::convert(&registry, &context);

    let files = write::render(&conversion.spec, &context.out_dir, &registry.project)?;
    write::refuse_overwrites(&files, args.force)?;
    write::check(&conversion.spec, &files, &context.out_dir)?;
    write::write_all(&files, &context.out_dir)?;

    let report = Report {
        feast_project: registry.project,
        project: conversion.spec.project,
        format,
        feast_repo: context.feast_repo,
        out: context.out_dir,
        files: files
            .iter()
            .map(|f| WrittenFile {
                path: f.path.clone(),
                objects: f.objects.map(|(count, _)| count),
            })
            .collect(),
        not_converted: conversion.notes,
    };
    if global.json {
        return print_json(&report);
    }
    print_report(&report, &files);
    Ok(())
}

fn print_report(report: &Report, files: &[write::OutFile]) {
    println!(
        "Imported Feast project {} from a {} into {} (Feast's relative file paths start at {})",
        report.feast_project,
        report.format.label(),
        report.out.display(),
        report.feast_repo.display()
    );
    for file in files {
        match file.objects {
            Some((count, nouns)) => println!(
                "  wrote {} ({count} {})",
                file.path.display(),
                if count == 1 { nouns.0 } else { nouns.1 }
            ),
            None => println!(
                "  wrote {} (project {})",
                file.path.display(),
                report.project
            ),
        }
    }
    if report.not_converted.is_empty() {
        println!("Everything was converted.");
    } else {
        println!("Not converted ({}):", report.not_converted.len());
        for note in &report.not_converted {
            println!("  {}: {}", note.object, note.reason);
        }
    }
    println!("Next: quiver --repo {} plan", report.out.display());
}
