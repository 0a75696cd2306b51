//! `quiver-bench setup`: writes the bench feature repo and applies it.
//!
//! Entity `driver` (`driver_id` int64, ids `1..=N`); views `stats_0..` each with
//! `f0..` float32 features, ttl 7d, each reading its own Parquet file of N entities
//! × `hours` hourly rows ending at the current hour (values are a deterministic
//! function of id, hour and feature). `quiver.yaml` names the embedded online store;
//! `QUIVER_ONLINE_STORE_URL` switches the server (and `materialize`) to Redis.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// Rows per record batch and row group.
const BATCH_ROWS: usize = 65_536;
/// The views' TTL (the floor judges ages with the same one).
pub const VIEW_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);
const HOUR_US: i64 = 3_600_000_000;

pub struct SetupArgs<'a> {
    pub dir: &'a Path,
    pub project: &'a str,
    pub entities: u64,
    pub views: usize,
    pub features: usize,
    pub hours: usize,
}

pub async fn run(args: &SetupArgs<'_>) -> crate::Result<()> {
    if !quiver_core::is_identifier(args.project) {
        return Err(format!("project `{}` must be an identifier", args.project).into());
    }
    if args.entities == 0 || args.views == 0 || args.features == 0 || args.hours == 0 {
        return Err("entities, views, features and hours must be positive".into());
    }
    if args.dir.exists() && std::fs::read_dir(args.dir)?.next().is_some() {
        return Err(format!(
            "{} exists and is not empty (remove it first)",
            args.dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(args.dir.join("data"))?;
    std::fs::write(args.dir.join("quiver.yaml"), quiver_yaml(args.project))?;
    std::fs::write(args.dir.join("bench.yaml"), definitions(args))?;

    let started = std::time::Instant::now();
    let last_hour = chrono::Utc::now().timestamp_micros().div_euclid(HOUR_US) * HOUR_US;
    for v in 0..args.views {
        let path = args.dir.join("data").join(format!("stats_{v}.parquet"));
        write_view(&path, v, args, last_hour)?;
    }
    let rows = args.entities * args.hours as u64 * args.views as u64;
    println!(
        "setup: wrote {} views × {} entities × {} hours = {rows} rows of {} float32 features in {:.1} s",
        args.views,
        args.entities,
        args.hours,
        args.features,
        started.elapsed().as_secs_f64()
    );

    apply(args.dir).await?;
    println!(
        "setup: applied project {} in {}",
        args.project,
        args.dir.display()
    );
    Ok(())
}

fn quiver_yaml(project: &str) -> String {
    format!(
        "# quiver-bench repo. QUIVER_ONLINE_STORE_URL=redis://... switches the online store to Redis.\n\
         project: {project}\n\
         registry: sqlite://.quiver/registry.db\n\
         offline_store: {{ path: .quiver/offline }}\n\
         online_store: {{ type: embedded, path: .quiver/online }}\n"
    )
}

fn definitions(args: &SetupArgs<'_>) -> String {
    let mut out = String::from(
        "# Written by `quiver-bench setup`.\n\
         entities:\n  - name: driver\n    join_keys: [{ name: driver_id, dtype: int64 }]\n\nsources:\n",
    );
    let ttl = format!("{}s", VIEW_TTL.as_secs());
    for v in 0..args.views {
        let _ = write!(
            out,
            "  - name: stats_{v}_source\n    kind: parquet\n    path: data/stats_{v}.parquet\n    \
             timestamp_field: event_timestamp\n    created_timestamp_field: created\n"
        );
    }
    out.push_str("\nfeature_views:\n");
    for v in 0..args.views {
        let _ = write!(
            out,
            "  - name: stats_{v}\n    entities: [driver]\n    source: stats_{v}_source\n    ttl: {ttl}\n    features:\n"
        );
        for f in 0..args.features {
            let _ = writeln!(out, "      - {{ name: f{f}, dtype: float32 }}");
        }
    }
    out
}

fn schema(features: usize) -> Arc<Schema> {
    let ts = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("driver_id", DataType::Int64, false),
        Field::new("event_timestamp", ts(), false),
        Field::new("created", ts(), false),
    ];
    fields.extend((0..features).map(|f| Field::new(format!("f{f}"), DataType::Float32, true)));
    Arc::new(Schema::new(fields))
}

/// One view's file: for each hour (oldest first), every entity.
fn write_view(path: &Path, view: usize, args: &SetupArgs<'_>, last_hour: i64) -> crate::Result<()> {
    let schema = schema(args.features);
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(BATCH_ROWS))
        .build();
    let file = File::create(path)?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
    let total = args.entities * args.hours as u64;
    let mut next = 0u64;
    while next < total {
        let end = (next + BATCH_ROWS as u64).min(total);
        let rows: Vec<(i64, i64)> = (next..end)
            .map(|r| {
                let hour = i64::try_from(r / args.entities).unwrap_or(0);
                let id = i64::try_from(r % args.entities + 1).unwrap_or(0);
                (id, hour)
            })
            .collect();
        let hours = i64::try_from(args.hours).unwrap_or(1);
        let at = |hour: i64| last_hour - (hours - 1 - hour) * HOUR_US;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| at(r.1)))
                    .with_timezone("UTC"),
            ),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|r| at(r.1) + 60_000_000),
                )
                .with_timezone("UTC"),
            ),
        ];
        for f in 0..args.features {
            let salt = (view * 1000 + f) as i64;
            columns.push(Arc::new(Float32Array::from_iter_values(
                rows.iter().map(|&(id, hour)| value(id, hour, salt)),
            )));
        }
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
        next = end;
    }
    writer.close()?;
    Ok(())
}

/// A deterministic value in [0, 1).
fn value(id: i64, hour: i64, salt: i64) -> f32 {
    let x = id
        .wrapping_mul(2_654_435_761)
        .wrapping_add(hour.wrapping_mul(40_503))
        .wrapping_add(salt.wrapping_mul(97));
    (x.rem_euclid(10_000) as f32) / 10_000.0
}

/// `quiver apply`, in process: load and validate, check against the Parquet files,
/// register.
async fn apply(dir: &Path) -> crate::Result<()> {
    let repo =
        quiver_core::load_repo(dir).map_err(|e| format!("the bench repo is invalid: {e}"))?;
    let check = quiver_offline::check_sources(&repo).await;
    if !check.errors.is_empty() {
        let errors: Vec<String> = check.errors.iter().map(ToString::to_string).collect();
        return Err(format!(
            "the bench data does not fit its definitions: {}",
            errors.join("; ")
        )
        .into());
    }
    if let Some(unreadable) = check.unreadable.first() {
        return Err(format!(
            "source `{}` is unreadable: {}",
            unreadable.source, unreadable.reason
        )
        .into());
    }
    let registry = quiver_registry::Registry::connect(&repo.config.registry, dir).await?;
    let objects = repo.spec.objects()?;
    registry
        .apply(&repo.config.project, &objects, "quiver-bench")
        .await?;
    Ok(())
}
