//! The as-of merge of one view: entity rows sorted by (keys, time) against the
//! view's rows streamed sorted by (keys, effective time), one pass each.
//!
//! For an entity row `(k, t)` the answer is, among rows with key `k` and
//! effective time `<= t`, the one with the greatest (event time, created time);
//! it counts only if its event time is within the TTL (`>= t - ttl`). The
//! effective time is the event time, or in as-of-known-time mode the later of
//! event and created time (a row known only after `t` must not be used).

use std::cmp::Ordering;

use arrow::array::{
    Array, ArrayRef, RecordBatch, TimestampMicrosecondArray, UInt32Array, new_null_array,
};
use arrow::compute::{interleave, take};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{Row, RowConverter, Rows, SortField};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use super::key_codes;
use crate::error::{OfflineError, Result};
use crate::view_schema::{CREATED_TS, EVENT_TS};

/// Entity rows handled per output chunk; also the flush point that lets the
/// merge release view batches it no longer needs.
const CHUNK: usize = 8192;
/// Flush early when a chunk spans this many view batches, bounding memory when
/// entity rows are sparse against a dense view.
const MAX_RETAINED: usize = 32;

/// The entity side of one view's merge.
pub struct EntitySide {
    /// The entity key columns, cast to the view's key types, in key order.
    pub keys: Vec<ArrayRef>,
    pub times: Vec<i64>,
}

/// The view side: the stream and which columns to output.
pub struct ViewSide {
    pub stream: SendableRecordBatchStream,
    pub key_names: Vec<String>,
    pub feature_names: Vec<String>,
    pub feature_schema: SchemaRef,
    pub ttl_us: Option<i64>,
    pub as_of_known_time: bool,
}

/// The chosen row for the current key.
struct Best {
    key: OwnedKey,
    slot: usize,
    row: usize,
    event: i64,
    created: Option<i64>,
}

/// Rows' join keys in the form the merge compares: integer codes
/// ([`key_codes`]) when the key types allow, else Arrow's row format.
enum Keys {
    Codes(Vec<u128>),
    Rows(Rows),
}

/// One row's key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Code(u128),
    Row(Row<'a>),
}

/// A key kept past its batch; the bytes' buffer is reused from key to key.
enum OwnedKey {
    Code(u128),
    Bytes(Vec<u8>),
}

impl OwnedKey {
    fn new(key: Key<'_>) -> Self {
        match key {
            Key::Code(c) => OwnedKey::Code(c),
            Key::Row(r) => OwnedKey::Bytes(r.as_ref().to_vec()),
        }
    }

    fn is(&self, key: Key<'_>) -> bool {
        match (self, key) {
            (OwnedKey::Code(a), Key::Code(b)) => *a == b,
            (OwnedKey::Bytes(a), Key::Row(b)) => a.as_slice() == b.as_ref(),
            _ => false,
        }
    }

    fn set(&mut self, key: Key<'_>) {
        match (&mut *self, key) {
            (OwnedKey::Bytes(bytes), Key::Row(r)) => {
                bytes.clear();
                bytes.extend_from_slice(r.as_ref());
            }
            _ => *self = OwnedKey::new(key),
        }
    }
}

/// How one merge encodes keys: both sides the same way.
struct KeyEncoder {
    /// The integer codes' layout, when the key types allow them.
    codes: Option<Vec<(u32, bool)>>,
    converter: RowConverter,
}

impl KeyEncoder {
    fn new(keys: &[ArrayRef]) -> Result<Self> {
        let types: Vec<DataType> = keys.iter().map(|k| k.data_type().clone()).collect();
        Ok(KeyEncoder {
            codes: key_codes::layout(&types),
            converter: RowConverter::new(types.into_iter().map(SortField::new).collect())?,
        })
    }

    fn encode(&self, keys: &[ArrayRef]) -> Result<Keys> {
        Ok(match &self.codes {
            Some(layout) => Keys::Codes(key_codes::codes(keys, layout)?),
            None => Keys::Rows(self.converter.convert_columns(keys)?),
        })
    }
}

impl Keys {
    fn key(&self, i: usize) -> Key<'_> {
        match self {
            Keys::Codes(codes) => Key::Code(codes[i]),
            Keys::Rows(rows) => Key::Row(rows.row(i)),
        }
    }
}

/// The current view batch with its decoded columns.
struct Current {
    slot: usize,
    keys: Keys,
    event: TimestampMicrosecondArray,
    created: TimestampMicrosecondArray,
    len: usize,
    pos: usize,
}

/// Runs the merge; the answers come in (keys, time) order, each saying
/// which entity row it answers.
pub async fn merge(entity: EntitySide, mut view: ViewSide) -> Result<Merged> {
    let encoder = KeyEncoder::new(&entity.keys)?;
    let left_keys = encoder.encode(&entity.keys)?;
    let order = entity_order(&left_keys, &entity.times);

    // Slot 0 is a one-row null batch: the answer for "no candidate".
    let nulls: Vec<ArrayRef> = view
        .feature_schema
        .fields()
        .iter()
        .map(|f| new_null_array(f.data_type(), 1))
        .collect();
    let mut retained: Vec<Vec<ArrayRef>> = vec![nulls];
    let mut current: Option<Current> = None;
    let mut best: Option<Best> = None;
    let mut exhausted = false;
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(CHUNK);
    let mut chunks: Vec<Chunk> = Vec::new();

    for &left in &order {
        let left = left as usize;
        let key = left_keys.key(left);
        let t = entity.times[left];
        loop {
            let needs_batch = current.as_ref().is_none_or(|c| c.pos >= c.len);
            if needs_batch {
                if exhausted {
                    break;
                }
                match view.stream.next().await {
                    Some(batch) => {
                        let batch = batch?;
                        if batch.num_rows() == 0 {
                            continue;
                        }
                        current = Some(load(&batch, &view, &encoder, &mut retained)?);
                        continue;
                    }
                    None => {
                        exhausted = true;
                        break;
                    }
                }
            }
            let Some(c) = current.as_mut() else { break };
            let event = c.event.value(c.pos);
            let created = (!c.created.is_null(c.pos)).then(|| c.created.value(c.pos));
            let effective = if view.as_of_known_time {
                created.map_or(event, |c| c.max(event))
            } else {
                event
            };
            match c.keys.key(c.pos).cmp(&key) {
                // A key below the current entity key: no later entity row has it.
                Ordering::Less => c.pos += 1,
                // The entity's own key, known by time `t`.
                Ordering::Equal if effective <= t => {
                    match best.as_mut() {
                        Some(b) => {
                            // A later (event, created) wins; a new key starts afresh.
                            let same_key = b.key.is(key);
                            if !same_key || (event, created) >= (b.event, b.created) {
                                if !same_key {
                                    b.key.set(key);
                                }
                                (b.slot, b.row, b.event, b.created) =
                                    (c.slot, c.pos, event, created);
                            }
                        }
                        None => {
                            best = Some(Best {
                                key: OwnedKey::new(key),
                                slot: c.slot,
                                row: c.pos,
                                event,
                                created,
                            });
                        }
                    }
                    c.pos += 1;
                }
                _ => break,
            }
        }
        let pick = match &best {
            Some(b)
                if b.key.is(key)
                    && view
                        .ttl_us
                        .is_none_or(|ttl| b.event >= t.saturating_sub(ttl)) =>
            {
                (b.slot, b.row)
            }
            _ => (0, 0),
        };
        picks.push(pick);
        if picks.len() == CHUNK || retained.len() > MAX_RETAINED {
            flush(
                &mut picks,
                &mut retained,
                &mut chunks,
                &mut best,
                &mut current,
            )?;
        }
    }
    flush(
        &mut picks,
        &mut retained,
        &mut chunks,
        &mut best,
        &mut current,
    )?;

    Ok(Merged { chunks, order })
}

/// One merge's answers, in its (keys, time) order.
pub struct Merged {
    pub chunks: Vec<Chunk>,
    /// For each answer row in turn, the entity row (of the merge's input) it answers.
    pub order: Vec<u32>,
}

/// Consecutive answer rows, a column per feature.
pub struct Chunk {
    pub rows: usize,
    pub columns: Vec<ArrayRef>,
}

/// The entity rows' indices sorted by (keys, time).
///
/// Row-format keys that happen to share one width of at most 16 bytes are
/// sorted as integers too (big-endian, which keeps the bytes' order).
fn entity_order(keys: &Keys, times: &[i64]) -> Vec<u32> {
    let n = times.len();
    let sorted = |mut keyed: Vec<(u128, i64, u32)>| {
        keyed.sort_unstable_by_key(|&(key, time, _)| (key, time));
        keyed.into_iter().map(|(_, _, i)| i).collect()
    };
    let rows = match keys {
        Keys::Codes(codes) => {
            return sorted((0..n).map(|i| (codes[i], times[i], i as u32)).collect());
        }
        Keys::Rows(rows) => rows,
    };
    let width = (n > 0).then(|| rows.row(0).as_ref().len());
    if width.is_some_and(|w| w <= 16 && (0..n).all(|i| rows.row(i).as_ref().len() == w)) {
        let code = |bytes: &[u8]| {
            let mut padded = [0u8; 16];
            padded[..bytes.len()].copy_from_slice(bytes);
            u128::from_be_bytes(padded)
        };
        return sorted(
            (0..n)
                .map(|i| (code(rows.row(i).as_ref()), times[i], i as u32))
                .collect(),
        );
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        rows.row(a as usize)
            .cmp(&rows.row(b as usize))
            .then(times[a as usize].cmp(&times[b as usize]))
    });
    order
}

/// Decodes a view batch and keeps its feature columns in a new slot.
fn load(
    batch: &RecordBatch,
    view: &ViewSide,
    encoder: &KeyEncoder,
    retained: &mut Vec<Vec<ArrayRef>>,
) -> Result<Current> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| OfflineError::Config(format!("offline data lacks column `{name}`")))
    };
    let keys = view
        .key_names
        .iter()
        .map(|k| column(k))
        .collect::<Result<Vec<_>>>()?;
    let keys = encoder.encode(&keys)?;
    let timestamps = |name: &str| -> Result<TimestampMicrosecondArray> {
        column(name)?
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .cloned()
            .ok_or_else(|| {
                OfflineError::Config(format!(
                    "offline column `{name}` is not microsecond timestamps"
                ))
            })
    };
    let features = view
        .feature_names
        .iter()
        .map(|f| column(f))
        .collect::<Result<Vec<_>>>()?;
    retained.push(features);
    Ok(Current {
        slot: retained.len() - 1,
        keys,
        event: timestamps(EVENT_TS)?,
        created: timestamps(CREATED_TS)?,
        len: batch.num_rows(),
        pos: 0,
    })
}

/// Materializes the picked values and drops view batches nothing refers to.
fn flush(
    picks: &mut Vec<(usize, usize)>,
    retained: &mut Vec<Vec<ArrayRef>>,
    chunks: &mut Vec<Chunk>,
    best: &mut Option<Best>,
    current: &mut Option<Current>,
) -> Result<()> {
    if !picks.is_empty() {
        let width = retained[0].len();
        let mut columns = Vec::with_capacity(width);
        for f in 0..width {
            let sources: Vec<&dyn Array> = retained.iter().map(|r| r[f].as_ref()).collect();
            columns.push(interleave(&sources, picks)?);
        }
        chunks.push(Chunk {
            rows: picks.len(),
            columns,
        });
        picks.clear();
    }
    // Keep slot 0 (nulls), the current batch, and a one-row copy of the best row.
    let mut kept: Vec<Vec<ArrayRef>> = vec![retained[0].clone()];
    if let Some(c) = current.as_mut() {
        kept.push(retained[c.slot].clone());
        c.slot = kept.len() - 1;
    }
    if let Some(b) = best.as_mut() {
        let index = UInt32Array::from(vec![b.row as u32]);
        let row: Vec<ArrayRef> = retained[b.slot]
            .iter()
            .map(|a| take(a, &index, None))
            .collect::<std::result::Result<_, _>>()?;
        kept.push(row);
        b.slot = kept.len() - 1;
        b.row = 0;
    }
    *retained = kept;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, Int64Array, StringArray};

    use super::*;

    /// (keys, time) of each row in `order`, as the generic comparison sees them.
    fn sorted_pairs(keys: &Rows, times: &[i64], order: &[u32]) -> Vec<(Vec<u8>, i64)> {
        order
            .iter()
            .map(|&i| (keys.row(i as usize).as_ref().to_vec(), times[i as usize]))
            .collect()
    }

    fn check(columns: Vec<ArrayRef>, times: Vec<i64>) {
        let fields = columns
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect();
        let rows = RowConverter::new(fields)
            .unwrap()
            .convert_columns(&columns)
            .unwrap();
        // As the merge encodes them (integer codes where it can), and as rows.
        let encoded = KeyEncoder::new(&columns).unwrap().encode(&columns).unwrap();
        let rows = Keys::Rows(rows);
        for keys in [&encoded, &rows] {
            let order = entity_order(keys, &times);
            let mut all = order.clone();
            all.sort_unstable();
            assert_eq!(all, (0..times.len() as u32).collect::<Vec<_>>());
            let Keys::Rows(rows) = &rows else {
                unreachable!()
            };
            let got = sorted_pairs(rows, &times, &order);
            let mut want = got.clone();
            want.sort();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn fixed_width_keys_sort_as_the_row_format_orders_them() {
        let n = 5000i64;
        let key = |i: i64| (i * 7919 % 601) - 300;
        // One int64 key with negatives and nulls (9 bytes a row).
        check(
            vec![Arc::new(Int64Array::from(
                (0..n)
                    .map(|i| (i % 37 != 0).then_some(key(i)))
                    .collect::<Vec<_>>(),
            ))],
            (0..n).map(|i| (i * 31 % 97) - 50).collect(),
        );
        // Two keys, 14 bytes a row.
        check(
            vec![
                Arc::new(Int32Array::from(
                    (0..n).map(|i| (i % 5) as i32 - 2).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from((0..n).map(key).collect::<Vec<_>>())),
            ],
            (0..n).map(|i| i % 13).collect(),
        );
    }

    #[test]
    fn variable_width_keys_take_the_general_comparison() {
        let n = 3000;
        check(
            vec![Arc::new(StringArray::from(
                (0..n)
                    .map(|i| "x".repeat(i % 23) + &(i % 7).to_string())
                    .collect::<Vec<_>>(),
            ))],
            (0..n as i64).map(|i| i % 11).collect(),
        );
    }
}
