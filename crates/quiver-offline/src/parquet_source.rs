//! Reading a Parquet source (file, hive-partitioned directory or glob) into the
//! view's canonical layout, with the time window pushed into the scan.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{Expr, cast, ident, lit};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use quiver_core::{SourceKind, ValueType};

use crate::error::{OfflineError, Result};
use crate::parquet_check::checked_parquet_files;
use crate::types::arrow_type_fits;
use crate::view_schema::{CREATED_TS, EVENT_TS, ViewSchema, arrow_type, timestamp_type};
use crate::window::TimeWindow;

/// A DataFrame of the view's rows with event time in `window`, in canonical layout.
pub async fn read_parquet_source(
    ctx: &SessionContext,
    view: &ViewSchema,
    repo_root: &Path,
    window: TimeWindow,
) -> Result<DataFrame> {
    let SourceKind::Parquet { path } = &view.source.kind else {
        return Err(OfflineError::Config(format!(
            "source `{}` is not a parquet source",
            view.source.name
        )));
    };
    // Our own listing (not DataFusion's) so hidden and `_` files are skipped the
    // same way everywhere; hive partition values become literal columns. Each
    // file's footer is checked first: DataFusion trusts it.
    let (root, pattern) = (repo_root.to_path_buf(), path.clone());
    let files = tokio::task::spawn_blocking(move || checked_parquet_files(&root, &pattern))
        .await
        .map_err(|e| OfflineError::Config(format!("the source file check failed: {e}")))??;
    let mut groups: BTreeMap<Vec<(String, String)>, Vec<String>> = BTreeMap::new();
    for file in &files {
        groups
            .entry(file.partitions.clone())
            .or_default()
            .push(file.path.to_string_lossy().into_owned());
    }
    let mut combined: Option<DataFrame> = None;
    for (partitions, paths) in groups {
        let mut df = ctx
            .read_parquet(paths, ParquetReadOptions::default())
            .await?;
        for (key, value) in partitions {
            if df.schema().field_with_unqualified_name(&key).is_err() {
                df = df.with_column(&key, lit(value))?;
            }
        }
        combined = Some(match combined {
            None => df,
            Some(all) => all.union_by_name(df)?,
        });
    }
    let df = combined
        .ok_or_else(|| OfflineError::NoFiles(repo_root.join(path).display().to_string()))?;
    canonical(df, view, window)
}

/// Checks and casts the source's columns into the view's layout and applies the window.
pub fn canonical(df: DataFrame, view: &ViewSchema, window: TimeWindow) -> Result<DataFrame> {
    let source = &view.source;
    let column = |name: &str, declared: ValueType| -> Result<Expr> {
        let column = source.column_for(name);
        let field = df
            .schema()
            .field_with_unqualified_name(column)
            .map_err(|_| OfflineError::MissingColumn {
                source_name: source.name.clone(),
                column: column.to_string(),
            })?;
        // Hive partition values arrive as text and are parsed by the cast.
        let is_partition_text = field.data_type() == &DataType::Utf8
            && declared != ValueType::Scalar(quiver_core::ScalarType::String);
        if !arrow_type_fits(declared, field.data_type()) && !is_partition_text {
            return Err(OfflineError::TypeMismatch {
                source_name: source.name.clone(),
                column: column.to_string(),
                declared: declared.to_string(),
                found: field.data_type().to_string(),
            });
        }
        Ok(cast(ident(column), arrow_type(declared)))
    };
    let timestamp = ValueType::Scalar(quiver_core::ScalarType::Timestamp);
    let event_ts = column(&source.timestamp_field, timestamp)?;
    let created_ts = match &source.created_timestamp_field {
        Some(created) => column(created, timestamp)?,
        None => cast(lit(ScalarValue::Null), timestamp_type()),
    };
    let mut select: Vec<Expr> = Vec::new();
    for key in &view.keys {
        select.push(column(&key.name, key.dtype)?.alias(&key.name));
    }
    select.push(event_ts.clone().alias(EVENT_TS));
    select.push(created_ts.alias(CREATED_TS));
    for feature in &view.view.features {
        select.push(column(&feature.name, feature.dtype)?.alias(&feature.name));
    }
    let bound = |us: i64| {
        lit(ScalarValue::TimestampMicrosecond(
            Some(us),
            Some("UTC".into()),
        ))
    };
    let in_window = event_ts
        .clone()
        .gt_eq(bound(window.start_us))
        .and(event_ts.clone().lt(bound(window.end_us)));
    // Rows without an event time (in no window) or a key are read too: the
    // built-in checks drop and count them (quiver_quality::builtin).
    let keep = event_ts.is_null().or(in_window);
    // Stored files are sorted by keys and time (the offline store's invariant),
    // so joins can merge them instead of sorting the whole view.
    Ok(df
        .filter(keep)?
        .select(select)?
        .sort(crate::view_schema::storage_order(view))?)
}
