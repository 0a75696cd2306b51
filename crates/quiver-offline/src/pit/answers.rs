//! A training set's rows, put together only when asked for: each view's
//! answers stay in the order its merges produced them, beside a map from
//! entity row to answer, and a slice of the entity frame's rows is gathered
//! from them when a writer asks for it. The training set as a table is never
//! built; a writer holds one slice of it at a time.

use arrow::array::{
    Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array, new_empty_array,
};
use arrow::compute::interleave;
use arrow::datatypes::{DataType, SchemaRef};

use super::asof::Merged;
use crate::error::{OfflineError, Result};
use crate::parquet_columns::on_cores;
use crate::table_rows::TableRows;

/// One view's answers for every entity row.
pub struct ViewAnswers {
    /// The merges' answer chunks end to end, a column per feature.
    chunks: Vec<Vec<ArrayRef>>,
    /// Where each chunk starts among the answers (ascending).
    starts: Vec<usize>,
    /// For each entity row, where its answer is among the answers.
    position: Vec<u32>,
    /// Each feature's type, for a view with no answers at all.
    types: Vec<DataType>,
}

impl ViewAnswers {
    /// The answers of the key ranges' merges, each with the entity rows its
    /// input held (`None`: every row, in order), over `entity_rows` rows.
    pub fn new(
        merged: Vec<(Merged, Option<&UInt32Array>)>,
        entity_rows: usize,
        types: Vec<DataType>,
    ) -> Result<Self> {
        let answers: usize = merged.iter().map(|(m, _)| m.order.len()).sum();
        if answers != entity_rows {
            return Err(OfflineError::Config(format!(
                "the join answered {answers} of {entity_rows} entity rows"
            )));
        }
        let mut position = vec![0u32; entity_rows];
        let mut chunks = Vec::new();
        let mut starts = Vec::new();
        let mut offset = 0usize;
        let mut chunk_start = 0usize;
        for (merge, rows) in merged {
            for (answer, &input) in merge.order.iter().enumerate() {
                let entity = rows.map_or(input, |r| r.value(input as usize));
                // Fits: a frame holds at most `entity::MAX_ROWS` rows.
                position[entity as usize] = (offset + answer) as u32;
            }
            offset += merge.order.len();
            for chunk in merge.chunks {
                starts.push(chunk_start);
                chunk_start += chunk.rows;
                chunks.push(chunk.columns);
            }
        }
        Ok(ViewAnswers {
            chunks,
            starts,
            position,
            types,
        })
    }

    /// Where the answers of entity rows `start..start + len` are: (chunk, row).
    fn locate(&self, start: usize, len: usize) -> Vec<(usize, usize)> {
        self.position[start..start + len]
            .iter()
            .map(|&p| {
                let p = p as usize;
                let chunk = self.starts.partition_point(|&s| s <= p) - 1;
                (chunk, p - self.starts[chunk])
            })
            .collect()
    }

    /// Feature `f`'s values at `places`.
    fn gather(&self, f: usize, places: &[(usize, usize)]) -> Result<ArrayRef> {
        if places.is_empty() {
            return Ok(new_empty_array(&self.types[f]));
        }
        let sources: Vec<&dyn Array> = self.chunks.iter().map(|c| c[f].as_ref()).collect();
        Ok(interleave(&sources, places)?)
    }
}

/// A training set: the entity frame's columns, then each view's features.
pub struct TrainingRows {
    schema: SchemaRef,
    entity: RecordBatch,
    views: Vec<ViewAnswers>,
}

impl TrainingRows {
    pub(super) fn new(schema: SchemaRef, entity: RecordBatch, views: Vec<ViewAnswers>) -> Self {
        TrainingRows {
            schema,
            entity,
            views,
        }
    }
}

impl TableRows for TrainingRows {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn num_rows(&self) -> usize {
        self.entity.num_rows()
    }

    fn rows(&self, start: usize, len: usize) -> Result<RecordBatch> {
        let places: Vec<Vec<(usize, usize)>> =
            self.views.iter().map(|v| v.locate(start, len)).collect();
        // Every feature column of every view is gathered on its own core.
        let features: Vec<(usize, usize)> = self
            .views
            .iter()
            .enumerate()
            .flat_map(|(v, view)| (0..view.types.len()).map(move |f| (v, f)))
            .collect();
        let gathered = on_cores(features, |_, (v, f)| self.views[v].gather(f, &places[v]));
        let mut columns = self.entity.slice(start, len).columns().to_vec();
        for column in gathered {
            columns.push(column?);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(len));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?)
    }
}
