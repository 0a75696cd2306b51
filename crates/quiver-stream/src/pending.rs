//! The micro-batch being gathered: decoded rows per (partition, view), bad
//! messages, and the offsets to commit once it is written.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use quiver_online::OnlineRow;
use quiver_store::CheckCount;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;

use crate::dead_letter::DeadLetter;
use crate::error::Result;

/// A topic partition.
pub type Partition = (String, i32);

/// Decoded rows of one view from one partition, with their offsets.
pub type OffsetRows = Vec<(i64, OnlineRow)>;

#[derive(Default)]
pub struct Pending {
    started: Option<Instant>,
    messages: usize,
    /// The last offset taken from each partition.
    last_offsets: BTreeMap<Partition, i64>,
    /// Rows per (partition, index of the view among the topic's views).
    pub rows: BTreeMap<(Partition, usize), OffsetRows>,
    /// What the checks counted per (topic, index of the view among its views).
    pub checks: BTreeMap<(String, usize), Vec<CheckCount>>,
    pub dead_letters: Vec<DeadLetter>,
    /// Key and payload of the messages a view's check may refuse (those of
    /// topics that feed a checked view), to dead-letter them as they came.
    pub raw: BTreeMap<(Partition, i64), RawMessage>,
}

/// A message's key and payload.
pub type RawMessage = (Option<Vec<u8>>, Option<Vec<u8>>);

impl Pending {
    /// Notes that the message at `offset` of `partition` is in the batch.
    pub fn take_offset(&mut self, partition: &Partition, offset: i64) {
        self.started.get_or_insert_with(Instant::now);
        self.messages += 1;
        self.last_offsets.insert(partition.clone(), offset);
    }

    pub fn add_row(&mut self, partition: &Partition, view: usize, offset: i64, row: OnlineRow) {
        self.rows
            .entry((partition.clone(), view))
            .or_default()
            .push((offset, row));
    }

    pub fn messages(&self) -> usize {
        self.messages
    }

    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// When the batch must be written: `max_wait` after its first message.
    pub fn deadline(&self, max_wait: Duration) -> Option<Instant> {
        self.started.map(|t| t + max_wait)
    }

    /// The next offset of each partition: one past its last message.
    pub fn next_offsets(&self) -> impl Iterator<Item = (Partition, i64)> + '_ {
        self.last_offsets
            .iter()
            .map(|(p, offset)| (p.clone(), offset + 1))
    }

    /// The offsets to commit once the batch is written.
    pub fn commit_list(&self) -> Result<TopicPartitionList> {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in self.next_offsets() {
            list.add_partition_offset(&topic, partition, Offset::Offset(offset))?;
        }
        Ok(list)
    }

    pub fn clear(&mut self) {
        *self = Pending::default();
    }
}
