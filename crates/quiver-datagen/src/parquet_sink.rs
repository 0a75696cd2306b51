//! Rows to a Parquet file: streamed batch by batch, written to a temp file and renamed into place.

use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::DatagenError;
use crate::batches::BATCH_ROWS;

/// Writes `rows` to `path` as Parquet, `BATCH_ROWS` at a time; returns the row count.
///
/// Readers never see a half-written file: the data goes to a temp file beside `path`,
/// which replaces `path` only once complete and synced (and is removed on failure).
pub(crate) fn write_parquet<R>(
    path: &Path,
    schema: SchemaRef,
    mut rows: impl Iterator<Item = R>,
    to_batch: impl Fn(&[R]) -> Result<RecordBatch, ArrowError>,
) -> Result<u64, DatagenError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let prefix = format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Temp files are owner-only by default; the data file should get the usual umask-based mode.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| DatagenError::io(dir, e))?;

    // A row group per batch bounds the writer's buffered data, whatever the table size.
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(BATCH_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(tmp.as_file(), schema, Some(props))?;
    let mut chunk = Vec::with_capacity(BATCH_ROWS);
    let mut total = 0u64;
    loop {
        chunk.clear();
        chunk.extend(rows.by_ref().take(BATCH_ROWS));
        if chunk.is_empty() {
            break;
        }
        writer.write(&to_batch(&chunk)?)?;
        total += chunk.len() as u64;
    }
    writer.close()?;

    tmp.as_file()
        .sync_all()
        .map_err(|e| DatagenError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| DatagenError::io(path, e.error))?;
    // Make the rename itself durable (directories can only be opened and synced like this on Unix).
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| DatagenError::io(dir, e))?;
    Ok(total)
}
