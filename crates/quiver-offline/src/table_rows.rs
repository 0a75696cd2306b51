//! A table handed out a slice of rows at a time, so that whoever writes it (a
//! file, an HTTP body, a Flight stream) never needs it whole: a training set
//! gathers each slice from the join's answers only when it is asked for.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::Result;

/// Rows of a table, read in slices.
pub trait TableRows: Send + Sync {
    fn schema(&self) -> SchemaRef;

    fn num_rows(&self) -> usize;

    /// Rows `start..start + len` (within `num_rows`) as one batch.
    fn rows(&self, start: usize, len: usize) -> Result<RecordBatch>;

    /// Every row as one batch: for small tables and tests.
    fn whole(&self) -> Result<RecordBatch> {
        self.rows(0, self.num_rows())
    }
}

impl TableRows for RecordBatch {
    fn schema(&self) -> SchemaRef {
        RecordBatch::schema(self)
    }

    fn num_rows(&self) -> usize {
        RecordBatch::num_rows(self)
    }

    fn rows(&self, start: usize, len: usize) -> Result<RecordBatch> {
        // A slice shares the batch's buffers.
        Ok(self.slice(start, len))
    }
}

/// `(start, len)` of each slice of at most `size` rows covering `rows` rows;
/// one empty slice for an empty table, so its schema is still written.
pub fn slices(rows: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    let size = size.max(1);
    (0..rows.div_ceil(size).max(1)).map(move |i| {
        let start = i * size;
        (start, size.min(rows - start.min(rows)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_every_row_once() {
        assert_eq!(slices(0, 4).collect::<Vec<_>>(), [(0, 0)]);
        assert_eq!(slices(4, 4).collect::<Vec<_>>(), [(0, 4)]);
        assert_eq!(slices(10, 4).collect::<Vec<_>>(), [(0, 4), (4, 4), (8, 2)]);
    }
}
