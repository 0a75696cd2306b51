//! Watching whether rows arrive in storage order (join keys, event time,
//! created time), so the store can promise sorted files only when they are.

use arrow::array::RecordBatch;
use arrow::row::{OwnedRow, RowConverter, SortField};

use crate::error::{OfflineError, Result};
use crate::view_schema::{CREATED_TS, EVENT_TS, ViewSchema};

pub struct SortTracker {
    converter: RowConverter,
    columns: Vec<String>,
    last: Option<OwnedRow>,
    sorted: bool,
}

impl SortTracker {
    pub fn new(view: &ViewSchema) -> Result<Self> {
        let mut columns: Vec<String> = view.keys.iter().map(|k| k.name.clone()).collect();
        columns.push(EVENT_TS.into());
        columns.push(CREATED_TS.into());
        // Ascending with nulls first: the order DataFusion's `sort(true, true)` produces.
        let fields = columns
            .iter()
            .map(|c| {
                view.schema
                    .field_with_name(c)
                    .map(|f| SortField::new(f.data_type().clone()))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self {
            converter: RowConverter::new(fields)?,
            columns,
            last: None,
            sorted: true,
        })
    }

    /// Notes the next rows written; once out of order, stays unsorted.
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        if !self.sorted || batch.num_rows() == 0 {
            return Ok(());
        }
        let arrays = self
            .columns
            .iter()
            .map(|c| {
                batch
                    .column_by_name(c)
                    .cloned()
                    .ok_or_else(|| OfflineError::Config(format!("batch lacks `{c}`")))
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = self.converter.convert_columns(&arrays)?;
        let first_in_order = self
            .last
            .as_ref()
            .is_none_or(|last| last.row() <= rows.row(0));
        let within_in_order = (1..rows.num_rows()).all(|i| rows.row(i - 1) <= rows.row(i));
        self.sorted = first_in_order && within_in_order;
        self.last = Some(rows.row(rows.num_rows() - 1).owned());
        Ok(())
    }

    pub fn is_sorted(&self) -> bool {
        self.sorted
    }
}
