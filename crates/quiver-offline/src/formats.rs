//! Tables in and out: entity frames read from Parquet, CSV or Arrow IPC, and
//! training sets written as Parquet, CSV, Arrow IPC (file or stream) or JSON.

use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::errors::ParquetError;

use crate::error::{OfflineError, Result};
use crate::parquet_check::check_parquet;
use crate::parquet_columns::{read_parquet, write_parquet};
use crate::table_rows::{TableRows, slices};
use crate::text_times;

/// The table formats quiver reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Csv,
    /// Arrow IPC file format (`.arrow`).
    ArrowFile,
    /// Arrow IPC stream format (HTTP `application/vnd.apache.arrow.stream`).
    ArrowStream,
    /// Row-oriented JSON: `[{"column": value, ...}, ...]`.
    Json,
}

impl TableFormat {
    /// The format named by a file's extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("parquet") => Ok(TableFormat::Parquet),
            Some("csv") => Ok(TableFormat::Csv),
            Some("arrow" | "feather" | "ipc") => Ok(TableFormat::ArrowFile),
            Some("arrows") => Ok(TableFormat::ArrowStream),
            Some("json") => Ok(TableFormat::Json),
            _ => Err(OfflineError::Request(format!(
                "`{}`: unknown table format (use .parquet, .csv, .arrow or .json)",
                path.display()
            ))),
        }
    }
}

/// Reads a whole table from bytes.
pub fn read_table(format: TableFormat, data: Bytes) -> Result<RecordBatch> {
    let bad = |e: &dyn std::fmt::Display| {
        OfflineError::Request(format!("cannot read the {format:?} table: {e}"))
    };
    let (schema, batches): (SchemaRef, Vec<RecordBatch>) = match format {
        TableFormat::Parquet => {
            check_parquet(&data).map_err(|e| bad(&e))?;
            return read_parquet(data).map_err(|e| bad(&e));
        }
        TableFormat::Csv => return read_csv(data),
        TableFormat::ArrowFile => {
            let reader = arrow::ipc::reader::FileReader::try_new(std::io::Cursor::new(data), None)
                .map_err(|e| bad(&e))?;
            let schema = reader.schema();
            (
                schema,
                reader
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| bad(&e))?,
            )
        }
        TableFormat::ArrowStream => {
            let reader =
                arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(data), None)
                    .map_err(|e| bad(&e))?;
            let schema = reader.schema();
            (
                schema,
                reader
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| bad(&e))?,
            )
        }
        TableFormat::Json => {
            return Err(OfflineError::Request(
                "JSON entity frames are sent inline in requests".into(),
            ));
        }
    };
    Ok(concat_batches(&schema, &batches)?)
}

/// A CSV table with a header. Columns of timestamps are read as text first:
/// whether their values carry a zone decides their type (see [`text_times`]).
fn read_csv(data: Bytes) -> Result<RecordBatch> {
    let bad = |e: &dyn std::fmt::Display| {
        OfflineError::Request(format!("cannot read the {:?} table: {e}", TableFormat::Csv))
    };
    let mut cursor = std::io::Cursor::new(data);
    let format = arrow::csv::reader::Format::default().with_header(true);
    let (inferred, _) = format
        .infer_schema(&mut cursor, Some(10_000))
        .map_err(|e| bad(&e))?;
    cursor.rewind().map_err(|e| bad(&e))?;
    let as_read = Arc::new(Schema::new(
        inferred
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Timestamp(_, _) => Field::new(f.name(), DataType::Utf8, true),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    let reader = arrow::csv::ReaderBuilder::new(as_read.clone())
        .with_header(true)
        .build(cursor)
        .map_err(|e| bad(&e))?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    let text = concat_batches(&as_read, &batches)?;
    let mut fields = Vec::with_capacity(text.num_columns());
    let mut columns = Vec::with_capacity(text.num_columns());
    for (field, column) in inferred.fields().iter().zip(text.columns()) {
        let column = match field.data_type() {
            DataType::Timestamp(unit, _) => {
                text_times::timestamps_from_text(field.name(), column.as_string::<i32>(), *unit)?
            }
            _ => column.clone(),
        };
        fields.push(Field::new(field.name(), column.data_type().clone(), true));
        columns.push(column);
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Reads a table file, by extension.
pub fn read_table_file(path: &Path) -> Result<RecordBatch> {
    let format = TableFormat::from_path(path)?;
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| OfflineError::Request(format!("cannot read {}: {e}", path.display())))?;
    read_table(format, Bytes::from(data))
}

/// `schema` as Parquet can hold it: Parquet has no seconds unit, and a
/// `timestamp[s]` column (what CSV and pandas readers often make of entity
/// times) would be written as bare integers other readers see as int64.
fn parquet_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Timestamp(TimeUnit::Second, tz) => f
                .as_ref()
                .clone()
                .with_data_type(DataType::Timestamp(TimeUnit::Millisecond, tz.clone())),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with its columns cast to `schema`'s types (a no-op when they match).
fn cast_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema() == *schema {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| arrow::compute::cast(column, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Writes `table` in `format`, asking it for `chunk_rows` rows at a time
/// (Parquet: a row group of 128Ki rows at a time) so neither side holds it whole.
pub fn write_table<W: Write + Send>(
    format: TableFormat,
    table: &dyn TableRows,
    out: W,
    chunk_rows: usize,
) -> Result<()> {
    let schema = table.schema();
    let chunks = slices(table.num_rows(), chunk_rows).map(|(start, len)| table.rows(start, len));
    let io = |e: std::io::Error| OfflineError::Write {
        path: "<output>".into(),
        source: Box::new(e),
    };
    match format {
        TableFormat::Parquet => {
            let target = parquet_schema(&schema);
            let group = |start, len| {
                table
                    .rows(start, len)
                    .and_then(|batch| cast_batch(&batch, &target))
                    .map_err(|e| ParquetError::External(Box::new(e)))
            };
            write_parquet(&target, table.num_rows(), group, out).map_err(|e| match e {
                // The rows' own error, not an encoding one.
                ParquetError::External(inner) => match inner.downcast::<OfflineError>() {
                    Ok(offline) => *offline,
                    Err(other) => OfflineError::Write {
                        path: "<output>".into(),
                        source: other,
                    },
                },
                other => OfflineError::Write {
                    path: "<output>".into(),
                    source: Box::new(other),
                },
            })?;
        }
        TableFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for chunk in chunks {
                writer.write(&chunk?)?;
            }
        }
        TableFormat::ArrowFile => {
            let mut writer = arrow::ipc::writer::FileWriter::try_new(out, &schema)?;
            for chunk in chunks {
                writer.write(&chunk?)?;
            }
            writer.finish()?;
        }
        TableFormat::ArrowStream => {
            let mut writer = arrow::ipc::writer::StreamWriter::try_new(out, &schema)?;
            for chunk in chunks {
                writer.write(&chunk?)?;
            }
            writer.finish()?;
        }
        TableFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(out);
            for chunk in chunks {
                writer.write(&chunk?)?;
            }
            writer.finish()?;
            writer.into_inner().flush().map_err(io)?;
        }
    }
    Ok(())
}

/// Writes a table file atomically (temporary file, then rename).
pub fn write_table_file(path: &Path, table: &dyn TableRows) -> Result<()> {
    let format = TableFormat::from_path(path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let write = |e: std::io::Error| OfflineError::Write {
        path: path.to_path_buf(),
        source: Box::new(e),
    };
    std::fs::create_dir_all(dir).map_err(write)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    let file = std::fs::File::create(&temp).map_err(write)?;
    let mut buffered = std::io::BufWriter::new(file);
    write_table(format, table, &mut buffered, 64 * 1024)?;
    buffered.flush().map_err(write)?;
    std::fs::rename(&temp, path).map_err(write)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, TimestampSecondArray};

    use super::*;

    #[test]
    fn second_timestamps_are_written_to_parquet_as_milliseconds() {
        let times = TimestampSecondArray::from(vec![1_700_000_000]).with_timezone("UTC");
        let schema = Schema::new(vec![Field::new(
            "event_timestamp",
            times.data_type().clone(),
            true,
        )]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(times)]).unwrap();
        let mut out = Vec::new();
        write_table(TableFormat::Parquet, &batch, &mut out, 1024).unwrap();
        let back = read_table(TableFormat::Parquet, Bytes::from(out)).unwrap();
        let column = back.column(0);
        assert_eq!(
            column.data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert_eq!(
            column
                .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                .value(0),
            1_700_000_000_000
        );
    }
}
