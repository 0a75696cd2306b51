//! The memory behind the `unique` check: the (keys, event time) identity of
//! every row kept so far, to tell whether a new row repeats one.
//!
//! A window holds millions of rows, so this is on the materialization's hot
//! path. Identities stay in the row-format buffers Arrow encoded them into (one
//! allocation per batch, not per row), and the table holds only each
//! identity's hash and where its bytes are: growing the table never re-reads
//! or re-hashes the bytes, and two identities' bytes are compared only when
//! their full 64-bit hashes agree.

use std::hash::BuildHasher;

use arrow::array::ArrayRef;
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::HashTable;

/// The identities seen so far (see the module documentation).
#[derive(Debug, Clone, Default)]
pub(crate) struct SeenRows {
    batches: Vec<Rows>,
    /// (hash of the identity, batch index, row index in that batch).
    table: HashTable<(u64, u32, u32)>,
    hasher: foldhash::fast::FixedState,
}

impl SeenRows {
    /// Remembers the rows of `columns` (the identity columns of one batch)
    /// that `judged` selects, and returns which of those repeat an identity
    /// remembered before (from an earlier batch or an earlier row of this
    /// one). Rows not judged are neither flagged nor remembered.
    pub(crate) fn insert(
        &mut self,
        columns: &[ArrayRef],
        judged: impl Fn(usize) -> bool,
    ) -> Result<Vec<bool>, String> {
        let fields = columns
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect();
        let converter = RowConverter::new(fields).map_err(|e| e.to_string())?;
        let rows = converter
            .convert_columns(columns)
            .map_err(|e| e.to_string())?;
        let batch = u32::try_from(self.batches.len())
            .map_err(|_| "too many batches to check `unique` over".to_string())?;
        let mut repeated = vec![false; rows.num_rows()];
        for (index, flag) in repeated.iter_mut().enumerate() {
            if !judged(index) {
                continue;
            }
            let row = u32::try_from(index)
                .map_err(|_| "a batch too large to check `unique` on".to_string())?;
            let bytes = rows.row(index).data();
            let hash = self.hasher.hash_one(bytes);
            let batches = &self.batches;
            let same = |&(h, b, r): &(u64, u32, u32)| {
                h == hash && identity(batches, &rows, batch, b, r) == bytes
            };
            if self.table.find(hash, same).is_some() {
                *flag = true;
            } else {
                self.table.insert_unique(hash, (hash, batch, row), |e| e.0);
            }
        }
        self.batches.push(rows);
        Ok(repeated)
    }
}

/// The bytes of row `row` of batch `batch`, which is either remembered or the
/// one being inserted (`current`, index `current_index`).
fn identity<'a>(
    batches: &'a [Rows],
    current: &'a Rows,
    current_index: u32,
    batch: u32,
    row: u32,
) -> &'a [u8] {
    let rows = if batch == current_index {
        current
    } else {
        &batches[batch as usize]
    };
    rows.row(row as usize).data()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;

    fn columns(ids: &[i64], names: &[&str]) -> Vec<ArrayRef> {
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from(names.to_vec())),
        ]
    }

    #[test]
    fn flags_repeats_within_and_across_batches() {
        let mut seen = SeenRows::default();
        let first = seen
            .insert(&columns(&[1, 2, 1, 1], &["a", "a", "a", "b"]), |_| true)
            .expect("insert");
        assert_eq!(first, [false, false, true, false]);
        let second = seen
            .insert(&columns(&[2, 3], &["a", "a"]), |_| true)
            .expect("insert");
        assert_eq!(second, [true, false]);
    }

    #[test]
    fn rows_not_judged_are_not_remembered() {
        let mut seen = SeenRows::default();
        let flags = seen
            .insert(&columns(&[7, 7], &["x", "x"]), |i| i == 1)
            .expect("insert");
        assert_eq!(flags, [false, false]);
        let again = seen
            .insert(&columns(&[7], &["x"]), |_| true)
            .expect("insert");
        assert_eq!(again, [true]);
    }

    #[test]
    fn many_rows_survive_the_table_growing() {
        let mut seen = SeenRows::default();
        let ids: Vec<i64> = (0..50_000).collect();
        let names = vec!["n"; ids.len()];
        let flags = seen
            .insert(&columns(&ids, &names), |_| true)
            .expect("insert");
        assert!(flags.iter().all(|f| !f));
        let flags = seen
            .insert(&columns(&ids, &names), |_| true)
            .expect("insert");
        assert!(flags.iter().all(|f| *f));
    }
}
