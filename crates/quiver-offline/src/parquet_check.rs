//! Is a file really Parquet? Its footer and metadata are decoded and every byte
//! range they point at is checked against the file's size *before* DataFusion
//! reads it: the parquet crate trusts those numbers (a truncated file with a
//! valid-looking footer made it panic with a subtraction overflow).

use std::fs::File;
use std::ops::Range;
use std::path::Path;

use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::reader::ChunkReader;

use crate::error::{OfflineError, Result};
use crate::parquet_files::{ParquetFile, list_parquet_files};

/// The 8 bytes that end every Parquet file: the metadata length and `PAR1`.
const FOOTER_LEN: u64 = 8;
const MAGIC: &[u8; 4] = b"PAR1";

/// The files of a Parquet source (see [`list_parquet_files`]), each checked.
pub fn checked_parquet_files(root: &Path, pattern: &str) -> Result<Vec<ParquetFile>> {
    let files = list_parquet_files(root, pattern)?;
    for file in &files {
        check_parquet_file(&file.path)?;
    }
    Ok(files)
}

/// Checks the Parquet file at `path` and returns its metadata.
pub fn check_parquet_file(path: &Path) -> Result<ParquetMetaData> {
    let file = File::open(path).map_err(|source| OfflineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    check_parquet(&file).map_err(|reason| OfflineError::NotParquet {
        path: path.to_path_buf(),
        reason,
    })
}

/// Checks Parquet data (a file, or bytes in memory); the error says what is wrong.
pub fn check_parquet<R: ChunkReader>(data: &R) -> Result<ParquetMetaData, String> {
    let len = data.len();
    if len == 0 {
        return Err("the file is empty".into());
    }
    // The smallest Parquet file: `PAR1`, an empty metadata block and the footer.
    if len < MAGIC.len() as u64 + FOOTER_LEN {
        return Err(format!("{len} bytes is too short for a Parquet file"));
    }
    let head = data.get_bytes(0, MAGIC.len()).map_err(|e| e.to_string())?;
    if head.as_ref() != MAGIC {
        return Err("it does not start with the Parquet magic bytes `PAR1`".into());
    }
    let footer = data
        .get_bytes(len - FOOTER_LEN, FOOTER_LEN as usize)
        .map_err(|e| e.to_string())?;
    if &footer[4..] != MAGIC {
        return Err("it does not end with the Parquet magic bytes `PAR1`".into());
    }
    let metadata_len = u64::from(u32::from_le_bytes([
        footer[0], footer[1], footer[2], footer[3],
    ]));
    // Data lies between the leading magic and the metadata block.
    let data_end = len
        .checked_sub(FOOTER_LEN + metadata_len)
        .filter(|end| *end >= MAGIC.len() as u64)
        .ok_or_else(|| {
            format!(
                "its footer declares {metadata_len} bytes of metadata but the file has {len} bytes (truncated?)"
            )
        })?;
    let metadata = ParquetMetaDataReader::new()
        .parse_and_finish(data)
        .map_err(|e| format!("its metadata cannot be decoded: {e}"))?;
    check_ranges(&metadata, MAGIC.len() as u64..data_end)?;
    Ok(metadata)
}

/// Every column chunk, page index and bloom filter must lie in `data`.
fn check_ranges(metadata: &ParquetMetaData, data: Range<u64>) -> Result<(), String> {
    for (g, group) in metadata.row_groups().iter().enumerate() {
        for column in group.columns() {
            let name = column.column_path().string();
            let start = column
                .dictionary_page_offset()
                .unwrap_or(column.data_page_offset());
            let ranges = [
                ("data", Some(start), Some(column.compressed_size())),
                (
                    "column index",
                    column.column_index_offset(),
                    column.column_index_length().map(i64::from),
                ),
                (
                    "offset index",
                    column.offset_index_offset(),
                    column.offset_index_length().map(i64::from),
                ),
                (
                    "bloom filter",
                    column.bloom_filter_offset(),
                    column.bloom_filter_length().map(i64::from),
                ),
            ];
            for (what, offset, length) in ranges {
                let Some(offset) = offset else { continue };
                if !inside(offset, length.unwrap_or(0), &data) {
                    return Err(format!(
                        "row group {g} column `{name}`: its {what} at byte {offset} (+{} bytes) lies outside the file's data (bytes {}..{}); the file is truncated or corrupt",
                        length.unwrap_or(0),
                        data.start,
                        data.end
                    ));
                }
            }
        }
    }
    Ok(())
}

fn inside(offset: i64, length: i64, data: &Range<u64>) -> bool {
    let (Ok(offset), Ok(length)) = (u64::try_from(offset), u64::try_from(length)) else {
        return false;
    };
    offset
        .checked_add(length)
        .is_some_and(|end| offset >= data.start && end <= data.end)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;

    use super::*;

    fn parquet_bytes() -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(0..1000))],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        out
    }

    fn footer(data: &[u8]) -> &[u8] {
        let len = u32::from_le_bytes(data[data.len() - 8..data.len() - 4].try_into().unwrap());
        &data[data.len() - 8 - len as usize..]
    }

    #[test]
    fn a_whole_file_passes() {
        let data = parquet_bytes();
        let metadata = check_parquet(&Bytes::from(data)).unwrap();
        assert_eq!(metadata.file_metadata().num_rows(), 1000);
    }

    #[test]
    fn an_empty_file_is_named_empty() {
        assert_eq!(
            check_parquet(&Bytes::new()).unwrap_err(),
            "the file is empty"
        );
    }

    #[test]
    fn a_footer_longer_than_the_file_is_refused() {
        // Half a file plus `PAR1`: the metadata length is whatever data came before.
        let data = parquet_bytes();
        let mut cut = data[..data.len() / 2].to_vec();
        cut.extend_from_slice(&u32::MAX.to_le_bytes());
        cut.extend_from_slice(b"PAR1");
        let error = check_parquet(&Bytes::from(cut)).unwrap_err();
        assert!(
            error.contains("declares 4294967295 bytes of metadata"),
            "{error}"
        );
    }

    #[test]
    fn half_a_file_with_its_magic_is_refused() {
        let data = parquet_bytes();
        let mut cut = data[..data.len() / 2].to_vec();
        cut.extend_from_slice(b"PAR1");
        assert!(check_parquet(&Bytes::from(cut)).is_err());
    }

    #[test]
    fn half_the_data_with_the_whole_footer_is_refused() {
        let data = parquet_bytes();
        let footer = footer(&data);
        let mut cut = data[..(data.len() - footer.len()) / 2].to_vec();
        cut.extend_from_slice(footer);
        let error = check_parquet(&Bytes::from(cut)).unwrap_err();
        assert!(error.contains("lies outside the file's data"), "{error}");
    }

    #[test]
    fn text_is_not_parquet() {
        let error = check_parquet(&Bytes::from_static(b"driver_id,conv_rate\n1,2\n")).unwrap_err();
        assert!(error.contains("magic bytes"), "{error}");
    }
}
