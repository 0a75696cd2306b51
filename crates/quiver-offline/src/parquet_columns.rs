//! Parquet tables encoded and decoded a column per core: a training set and
//! its entity frame are read and written whole, and Parquet's columns are
//! independent, so each core takes its share of them.

use std::io::Write;
use std::sync::Mutex;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::concat;
use arrow::datatypes::{DataType, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, compute_leaves};
use parquet::errors::Result;
use parquet::file::properties::WriterProperties;

/// Rows per row group written: a row group is gathered and encoded whole, so
/// this bounds the writer's memory (DuckDB writes groups of 122,880 rows).
const GROUP_ROWS: usize = 128 * 1024;
/// Rows decoded per batch while reading one column.
const READ_BATCH_ROWS: usize = 64 * 1024;

/// `f(i, item)` for each of `items` over the machine's cores, results in
/// item order. Each worker takes the next item from a shared queue.
pub(crate) fn on_cores<I: Send, T: Send>(
    items: Vec<I>,
    f: impl Fn(usize, I) -> T + Sync,
) -> Vec<T> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let count = items.len();
    if count <= 1 || cores == 1 {
        return items
            .into_iter()
            .enumerate()
            .map(|(i, item)| f(i, item))
            .collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    // A lock poisoned by a panicking worker still holds a usable queue.
    let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).next();
    let mut done: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores.min(count))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while let Some((i, item)) = next() {
                        mine.push((i, f(i, item)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}

/// Writes the rows `group(start, len)` hands out (in `schema`, already
/// Parquet-compatible) as a Parquet file of `rows` rows: one row group is
/// asked for at a time, and its columns are encoded side by side.
pub(crate) fn write_parquet<W: Write + Send>(
    schema: &SchemaRef,
    rows: usize,
    group: impl Fn(usize, usize) -> Result<RecordBatch>,
    out: W,
) -> Result<()> {
    // ArrowWriter sets up what readers need (the embedded Arrow schema, the
    // properties); its lower half then takes columns from several threads.
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(GROUP_ROWS))
        .build();
    let (mut file, factory) =
        ArrowWriter::try_new(out, schema.clone(), Some(properties))?.into_serialized_writer()?;
    let group_rows = GROUP_ROWS;
    for (index, start) in (0..rows).step_by(group_rows).enumerate() {
        let batch = group(start, group_rows.min(rows - start))?;
        // Each field has one writer per Parquet leaf column it becomes.
        let mut writers = factory.create_column_writers(index)?.into_iter();
        let fields: Vec<Vec<ArrowColumnWriter>> = schema
            .fields()
            .iter()
            .map(|field| {
                writers
                    .by_ref()
                    .take(leaf_count(field.data_type()))
                    .collect()
            })
            .collect();
        let encoded = on_cores(fields, |i, writers| -> Result<Vec<ArrowColumnChunk>> {
            let leaves = compute_leaves(schema.field(i), batch.column(i))?;
            writers
                .into_iter()
                .zip(leaves)
                .map(|(mut writer, leaf)| {
                    writer.write(&leaf)?;
                    writer.close()
                })
                .collect()
        });
        let mut group = file.next_row_group()?;
        for chunks in encoded {
            for chunk in chunks? {
                chunk.append_to_row_group(&mut group)?;
            }
        }
        group.close()?;
    }
    file.close()?;
    Ok(())
}

/// How many Parquet leaf columns a field of `data_type` becomes.
fn leaf_count(data_type: &DataType) -> usize {
    match data_type {
        DataType::Struct(fields) => fields.iter().map(|f| leaf_count(f.data_type())).sum(),
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::ListView(item)
        | DataType::LargeListView(item)
        | DataType::FixedSizeList(item, _)
        | DataType::Map(item, _) => leaf_count(item.data_type()),
        DataType::Dictionary(_, value) => leaf_count(value),
        _ => 1,
    }
}

/// Reads a Parquet file whole, its columns decoded side by side.
pub(crate) fn read_parquet(data: Bytes) -> Result<RecordBatch> {
    let metadata = ArrowReaderMetadata::load(&data, Default::default())?;
    let schema: SchemaRef = metadata.schema().clone();
    let columns = on_cores(
        (0..schema.fields().len()).collect(),
        |i, _| -> Result<ArrayRef> {
            let builder =
                ParquetRecordBatchReaderBuilder::new_with_metadata(data.clone(), metadata.clone());
            let mask = ProjectionMask::roots(builder.parquet_schema(), [i]);
            let parts = builder
                .with_projection(mask)
                .with_batch_size(READ_BATCH_ROWS)
                .build()?
                .map(|batch| batch.map(|b| b.column(0).clone()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            match parts.as_slice() {
                [] => Ok(arrow::array::new_empty_array(schema.field(i).data_type())),
                [one] => Ok(one.clone()),
                many => {
                    let arrays: Vec<&dyn arrow::array::Array> =
                        many.iter().map(AsRef::as_ref).collect();
                    Ok(concat(&arrays)?)
                }
            }
        },
    );
    let columns = columns.into_iter().collect::<Result<Vec<_>>>()?;
    let rows = metadata.metadata().file_metadata().num_rows();
    let options = arrow::array::RecordBatchOptions::new()
        .with_row_count(Some(usize::try_from(rows).unwrap_or_default()));
    Ok(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Array, Int64Array, ListArray, StringArray};
    use arrow::datatypes::{Field, Int32Type, Schema};

    use super::*;

    #[test]
    fn a_table_written_by_columns_reads_back_equal() {
        let n = 3000;
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("score", DataType::Float32, true),
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "place",
                DataType::Struct(
                    vec![
                        Field::new("x", DataType::Float64, true),
                        Field::new("label", DataType::Utf8, true),
                    ]
                    .into(),
                ),
                true,
            ),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))),
                true,
            ),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(Float32Array::from_iter(
                    (0..n).map(|i| (i % 7 != 0).then_some(i as f32 / 3.0)),
                )),
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 5 != 0).then(|| format!("n{i}"))),
                )),
                Arc::new(arrow::array::StructArray::from(vec![
                    (
                        Arc::new(Field::new("x", DataType::Float64, true)),
                        Arc::new(arrow::array::Float64Array::from_iter(
                            (0..n).map(|i| (i % 4 != 0).then_some(i as f64)),
                        )) as ArrayRef,
                    ),
                    (
                        Arc::new(Field::new("label", DataType::Utf8, true)),
                        Arc::new(StringArray::from_iter(
                            (0..n).map(|i| Some(format!("p{i}"))),
                        )) as ArrayRef,
                    ),
                ])),
                Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
                    (0..n).map(|i| (i % 3 != 0).then(|| vec![Some(i as i32), None])),
                )),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        let group = |start, len| Ok(batch.slice(start, len));
        write_parquet(&batch.schema(), batch.num_rows(), group, &mut out).unwrap();
        let back = read_parquet(Bytes::from(out)).unwrap();
        assert_eq!(back, batch);
    }

    #[test]
    fn an_empty_table_round_trips() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let batch = RecordBatch::new_empty(schema);
        let mut out = Vec::new();
        let group = |start, len| Ok(batch.slice(start, len));
        write_parquet(&batch.schema(), batch.num_rows(), group, &mut out).unwrap();
        let back = read_parquet(Bytes::from(out)).unwrap();
        assert_eq!(back.num_rows(), 0);
        assert_eq!(back.schema(), batch.schema());
    }
}
