//! The ingest loop: consume, decode, gather a micro-batch, write it online and
//! offline, send its bad messages to the dead-letter topic, then commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use quiver_core::KafkaConfig;
use quiver_offline::{CompactScope, FileOrigin, STREAM_FILES_PER_DAY};
use quiver_online::{MAX_TIMESTAMP_US, OnlineRow};
use quiver_store::{
    ErrorClass, FeatureStore, IngestStats, RejectReason, Rejected, StoreError, StreamPath,
    add_counts,
};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::context::IngestContext;
use crate::dead_letter::{self, DeadLetter};
use crate::error::{Result, StreamError};

use crate::pending::{Partition, Pending, RawMessage};
use crate::routes::Routes;
use crate::{admin, client};

/// First and longest pause between attempts at a failed batch.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// After a stop is asked for, how long the last batch may keep failing before
/// the worker exits without committing it (it is replayed on the next start).
const STOP_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub kafka: KafkaConfig,
    /// Only these views (default: every view with a Kafka stream source).
    pub views: Vec<String>,
    /// How often to log progress.
    pub log_every: Duration,
}

/// Runs the ingest until `stop` completes, then writes and commits the batch
/// in hand and returns.
pub async fn run_ingest(
    store: FeatureStore,
    options: IngestOptions,
    stats: IngestStats,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let applied = store.applied().await?;
    let routes = Routes::new(&applied, &options.views)?;
    let mut kafka = options.kafka;
    if kafka.bootstrap_servers.is_empty() {
        kafka.bootstrap_servers =
            routes
                .source_bootstrap()
                .map(str::to_string)
                .ok_or_else(|| {
                    StreamError::Config(
                "no Kafka cluster configured: set `kafka.bootstrap_servers` in quiver.yaml, \
                 `bootstrap_servers` on the source, or pass --bootstrap-servers"
                    .into(),
            )
                })?;
    }
    admin::ensure_topics(
        &kafka.bootstrap_servers,
        &[kafka.dead_letter_topic.as_str()],
        1,
        &kafka.properties,
    )
    .await?;
    let consumer = Arc::new(client::consumer(&kafka, IngestContext::new(stats.clone()))?);
    consumer.subscribe(&routes.topics())?;
    let producer = client::producer(&kafka)?;
    tracing::info!(
        topics = ?routes.topics(),
        group = %kafka.group_id,
        offline = kafka.offline,
        "ingest started"
    );

    let (stop_tx, mut stopping) = watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let mut worker = Worker {
        store,
        routes,
        kafka,
        stats,
        producer,
        consumer: consumer.clone(),
        pending: Pending::default(),
        partitions: HashMap::new(),
        generation: consumer.context().generation(),
        committed_to: BTreeMap::new(),
        compacting: None,
    };
    let mut log = tokio::time::interval(options.log_every);
    log.tick().await;
    loop {
        let deadline = worker.pending.deadline(worker.kafka.batch_max_wait);
        tokio::select! {
            biased;
            _ = stopping.changed() => break,
            _ = log.tick() => {
                worker.log_progress();
                worker.store.record_ended_stream_windows().await;
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                worker.flush(&stopping, CommitMode::Async).await?;
            }
            message = consumer.recv() => match message {
                Ok(message) => {
                    worker.accept(&message).await?;
                    if worker.pending.messages() >= worker.kafka.batch_max_messages {
                        worker.flush(&stopping, CommitMode::Async).await?;
                    }
                }
                Err(error) => {
                    // The client reconnects by itself; say so and go on.
                    tracing::warn!(%error, "kafka consumer error");
                    tokio::time::sleep(RETRY_FIRST).await;
                }
            },
        }
    }
    tracing::info!(
        messages = worker.pending.messages(),
        "stopping: writing the last batch"
    );
    worker.flush(&stopping, CommitMode::Sync).await?;
    worker.commit_all_sync().await;
    if let Some(merge) = worker.compacting.take() {
        let _ = merge.await;
    }
    worker.store.flush_stream_windows().await;
    worker.log_progress();
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Offsets of a partition already stored offline, per view of its topic.
struct PartitionState {
    stored: Vec<Vec<(i64, i64)>>,
    /// Files appended since the partition's files were last handed to a merge.
    appended: usize,
}

struct Worker {
    store: FeatureStore,
    routes: Routes,
    kafka: KafkaConfig,
    stats: IngestStats,
    producer: FutureProducer,
    consumer: Arc<StreamConsumer<IngestContext>>,
    pending: Pending,
    partitions: HashMap<Partition, PartitionState>,
    /// The rebalance generation the pending batch belongs to.
    generation: u64,
    /// The next offset of every partition committed in this generation.
    committed_to: BTreeMap<Partition, i64>,
    /// The merge of small offline files running beside the ingest, if any.
    compacting: Option<tokio::task::JoinHandle<()>>,
}

impl Worker {
    /// Decodes a message into the pending batch (or its dead letters).
    async fn accept(&mut self, message: &BorrowedMessage<'_>) -> Result<()> {
        self.follow_rebalance();
        let partition: Partition = (message.topic().to_string(), message.partition());
        let offset = message.offset();
        if !self.partitions.contains_key(&partition) {
            let state = self.resume_with_retry(&partition, offset).await;
            self.partitions.insert(partition.clone(), state);
        }
        self.stats.update(|s| s.messages += 1);
        self.pending.take_offset(&partition, offset);
        // The message timestamp is the created time: the same on every replay
        // (none when it is missing or out of the stores' range).
        let created_us = message
            .timestamp()
            .to_millis()
            .and_then(|ms| ms.checked_mul(1000))
            .filter(|us| us.unsigned_abs() <= MAX_TIMESTAMP_US.unsigned_abs());
        let decoded = match message.payload() {
            None => Err(Rejected {
                reason: RejectReason::NotJson,
                detail: "the message has no payload".into(),
            }),
            Some(payload) => self
                .routes
                .views(&partition.0)
                .iter()
                .map(|view| view.decoder.decode_bytes(payload, created_us))
                .collect::<std::result::Result<Vec<_>, _>>(),
        };
        match decoded {
            Ok(rows) => {
                for (view, row) in rows.into_iter().enumerate() {
                    self.pending.add_row(&partition, view, offset, row);
                }
                let views = self.routes.views(&partition.0);
                if views
                    .iter()
                    .any(|view| !view.checks.has_no_declared_checks())
                {
                    let raw = (
                        message.key().map(<[u8]>::to_vec),
                        message.payload().map(<[u8]>::to_vec),
                    );
                    self.pending.raw.insert((partition, offset), raw);
                }
            }
            Err(rejected) => self.dead_letter(
                (partition, offset),
                (
                    message.key().map(<[u8]>::to_vec),
                    message.payload().map(<[u8]>::to_vec),
                ),
                rejected,
            ),
        }
        Ok(())
    }

    /// Counts a refused message and keeps it for the dead-letter topic.
    fn dead_letter(&mut self, position: (Partition, i64), raw: RawMessage, rejected: Rejected) {
        let ((topic, partition), offset) = &position;
        tracing::debug!(%topic, partition, offset, %rejected, "bad message");
        self.stats
            .update(|s| *s.rejected.entry(rejected.reason).or_default() += 1);
        let (key, payload) = raw;
        self.pending.dead_letters.push(DeadLetter {
            key,
            payload,
            position,
            rejected,
        });
    }

    /// Judges the batch's rows with their views' checks, the rows of each
    /// (partition, view) together: a message a check refuses is
    /// dead-lettered, and its rows leave every view (a message is taken or
    /// refused whole). Dead letters then go out in the order of the messages.
    fn check_pending(&mut self) {
        let mut refused: BTreeMap<(Partition, i64), Rejected> = BTreeMap::new();
        for ((partition, view_index), rows) in &self.pending.rows {
            let view = &self.routes.views(&partition.0)[*view_index];
            let batch: Vec<&OnlineRow> = rows.iter().map(|(_, row)| row).collect();
            let mut counts = Vec::new();
            let refusals = view.refusals(&batch, &mut counts);
            if !counts.is_empty() {
                let key = (partition.0.clone(), *view_index);
                add_counts(self.pending.checks.entry(key).or_default(), &counts);
            }
            for ((offset, _), refusal) in rows.iter().zip(refusals) {
                if let Some(rejected) = refusal {
                    refused
                        .entry((partition.clone(), *offset))
                        .or_insert(rejected);
                }
            }
        }
        if !refused.is_empty() {
            for ((partition, _), rows) in &mut self.pending.rows {
                rows.retain(|(offset, _)| !refused.contains_key(&(partition.clone(), *offset)));
            }
            for (position, rejected) in refused {
                let raw = self.pending.raw.remove(&position).unwrap_or_default();
                self.dead_letter(position, raw, rejected);
            }
            self.pending
                .dead_letters
                .sort_by(|a, b| a.position.cmp(&b.position));
        }
        self.pending.raw.clear();
    }

    /// After partitions were revoked the uncommitted batch belongs to whoever
    /// owns them now (possibly this worker), who replays it from the committed
    /// offsets: drop it, and everything known about the old assignment.
    fn follow_rebalance(&mut self) {
        let generation = self.consumer.context().generation();
        if generation == self.generation {
            return;
        }
        if !self.pending.is_empty() {
            tracing::info!(
                messages = self.pending.messages(),
                "rebalance: dropping the uncommitted batch; it is replayed"
            );
        }
        self.pending.clear();
        self.partitions.clear();
        self.committed_to.clear();
        self.generation = generation;
    }

    /// [`resume`](Self::resume), retried with backoff: a broker or disk hiccup
    /// while partitions move must not end the ingest.
    async fn resume_with_retry(&self, partition: &Partition, offset: i64) -> PartitionState {
        let mut pause = RETRY_FIRST;
        loop {
            match self.resume(partition, offset).await {
                Ok(state) => return state,
                Err(error) => {
                    self.stats.update(|s| s.retries += 1);
                    tracing::warn!(%error, topic = %partition.0, partition = partition.1, retry_in = ?pause,
                        "cannot resume the partition; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// On (re)assignment the group resumes a partition at its committed offset:
    /// files written from there on were never committed (a crash between the
    /// write and the commit) and are removed before they are written again.
    /// Offsets below it that are stored already are not appended twice.
    /// Only ranges at or past `offset`, the first message now read, can matter.
    async fn resume(&self, partition: &Partition, offset: i64) -> Result<PartitionState> {
        let committed = self.committed_offset(partition).await?;
        let offline = self.store.offline_store();
        let mut stored = Vec::new();
        for view in self.routes.views(&partition.0) {
            let mut ranges = Vec::new();
            if self.kafka.offline {
                // A group with no commit yet (a new group replaying a topic) owns no files.
                let removed = match committed {
                    Some(offset) => offline.remove_uncommitted(
                        view.name(),
                        &partition.0,
                        partition.1,
                        offset,
                    )?,
                    None => 0,
                };
                if removed > 0 {
                    tracing::info!(view = view.name(), topic = %partition.0, partition = partition.1,
                        offset = ?committed, files = removed, "removed offline files of uncommitted offsets");
                }
                for file in offline.files(view.name())? {
                    if let FileOrigin::Kafka {
                        topic,
                        partition: p,
                        first_offset,
                        last_offset,
                    } = file.origin
                        && topic == partition.0
                        && p == partition.1
                        && last_offset >= offset
                    {
                        ranges.push((first_offset, last_offset));
                    }
                }
            }
            stored.push(ranges);
        }
        Ok(PartitionState {
            stored,
            appended: 0,
        })
    }

    /// The group's committed offset of `partition`, if it has one.
    async fn committed_offset(&self, partition: &Partition) -> Result<Option<i64>> {
        let mut list = TopicPartitionList::new();
        list.add_partition(&partition.0, partition.1);
        let consumer = self.consumer.clone();
        let list = tokio::task::spawn_blocking(move || {
            consumer.committed_offsets(list, Duration::from_secs(30))
        })
        .await
        .map_err(|e| {
            StreamError::Internal(format!("committed offsets lookup did not run: {e}"))
        })??;
        Ok(list.elements().first().and_then(|e| match e.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        }))
    }

    /// Writes the pending batch, retrying until it succeeds, then commits it.
    /// Batches commit asynchronously (the loop goes on while the broker
    /// records them); on the way out everything is committed synchronously.
    async fn flush(&mut self, stopping: &watch::Receiver<bool>, mode: CommitMode) -> Result<()> {
        self.follow_rebalance();
        if self.pending.is_empty() {
            return Ok(());
        }
        self.check_pending();
        let mut pause = RETRY_FIRST;
        let mut stop_deadline = None;
        loop {
            match self.write_and_commit(mode).await {
                Ok(()) => {
                    self.observe_committed().await;
                    if self.kafka.offline {
                        self.compact_committed();
                    }
                    break;
                }
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Rebalanced) => {
                    tracing::info!(
                        "rebalance during commit: the batch is replayed by the new owner"
                    );
                    break;
                }
                Err(Failure::Retry(error)) => {
                    self.stats.update(|s| s.retries += 1);
                    if *stopping.borrow() {
                        let deadline = *stop_deadline
                            .get_or_insert_with(|| tokio::time::Instant::now() + STOP_GRACE);
                        if tokio::time::Instant::now() >= deadline {
                            tracing::error!(%error, "stopping with an unwritten batch; it is replayed on the next start");
                            break;
                        }
                    }
                    tracing::warn!(%error, retry_in = ?pause, "writing the batch failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
        self.pending.clear();
        Ok(())
    }

    async fn write_and_commit(&mut self, mode: CommitMode) -> std::result::Result<(), Failure> {
        // Online first, for every partition: the batch is served before any
        // offline file is synced to disk.
        for ((partition, view_index), rows) in &self.pending.rows {
            let view = &self.routes.views(&partition.0)[*view_index];
            let online_rows: Vec<_> = rows.iter().map(|(_, row)| row.clone()).collect();
            let written = self.store.write_online_rows(view, &online_rows).await?;
            self.stats.update(|s| s.rows += written);
        }
        if self.kafka.offline {
            self.append_offline().await?;
        }
        dead_letter::send_all(
            &self.producer,
            &self.kafka.dead_letter_topic,
            &self.pending.dead_letters,
        )
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
        self.pending.dead_letters.clear();
        let offsets = self.pending.commit_list().map_err(Failure::Fatal)?;
        let committed = match mode {
            CommitMode::Async => self.consumer.commit(&offsets, CommitMode::Async),
            CommitMode::Sync => {
                let consumer = self.consumer.clone();
                tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync))
                    .await
                    .map_err(|e| Failure::Retry(format!("commit did not run: {e}")))?
            }
        };
        match committed {
            Ok(()) => {
                let messages = self.pending.messages() as u64;
                self.stats.update(|s| {
                    s.batches += 1;
                    s.committed_messages += messages;
                });
                self.committed_to.extend(self.pending.next_offsets());
                Ok(())
            }
            Err(error) if is_rebalance(&error) => Err(Failure::Rebalanced),
            Err(error) => Err(Failure::Retry(format!("commit failed: {error}"))),
        }
    }

    /// Takes the committed batch's rows and check counts into the views'
    /// windows of streamed rows and the ingest's counters.
    async fn observe_committed(&mut self) {
        let mut checks = std::mem::take(&mut self.pending.checks);
        for ((partition, view_index), rows) in &self.pending.rows {
            let view = &self.routes.views(&partition.0)[*view_index];
            let rows: Vec<&OnlineRow> = rows.iter().map(|(_, row)| row).collect();
            let counts = checks
                .remove(&(partition.0.clone(), *view_index))
                .unwrap_or_default();
            self.observe(view, &rows, counts).await;
        }
        // Views of whose messages every one was refused.
        for ((topic, view_index), counts) in checks {
            if !counts.is_empty() {
                let view = &self.routes.views(&topic)[view_index];
                self.observe(view, &[] as &[&OnlineRow], counts).await;
            }
        }
    }

    async fn observe(
        &self,
        view: &quiver_store::IngestView,
        rows: &[&OnlineRow],
        counts: Vec<quiver_store::CheckCount>,
    ) {
        if !counts.is_empty() {
            self.stats.update(|s| {
                let totals = s.checks.entry(view.name().to_string()).or_default();
                add_counts(totals, &counts);
            });
        }
        self.store
            .observe_stream(StreamPath::Kafka, view, rows, None, &counts)
            .await;
    }

    /// Commits, and waits for, every offset committed asynchronously so far.
    async fn commit_all_sync(&mut self) {
        self.follow_rebalance();
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in &self.committed_to {
            if list
                .add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .is_err()
            {
                return;
            }
        }
        if list.count() == 0 {
            return;
        }
        let consumer = self.consumer.clone();
        match tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "final commit failed; the last batches are replayed on the next start")
            }
            Err(error) => tracing::warn!(%error, "final commit did not run"),
        }
    }

    /// Appends the batch's rows not stored yet, one file per partition and
    /// view, all at once.
    async fn append_offline(&mut self) -> std::result::Result<(), Failure> {
        let mut appends = Vec::new();
        let mut skipped = 0;
        for ((partition, view_index), rows) in &self.pending.rows {
            let stored: &[(i64, i64)] = self
                .partitions
                .get(partition)
                .map_or(&[], |p| p.stored[*view_index].as_slice());
            let (new, replayed): (Vec<_>, Vec<_>) = rows.iter().partition(|(offset, _)| {
                !stored
                    .iter()
                    .any(|&(first, last)| (first..=last).contains(offset))
            });
            skipped += replayed.len() as u64;
            let (Some(first), Some(last)) = (new.first(), new.last()) else {
                continue;
            };
            let origin = FileOrigin::Kafka {
                topic: partition.0.clone(),
                partition: partition.1,
                first_offset: first.0,
                last_offset: last.0,
            };
            let range = (first.0, last.0);
            let view = &self.routes.views(&partition.0)[*view_index];
            let new_rows: Vec<_> = new.into_iter().map(|(_, row)| row.clone()).collect();
            let store = &self.store;
            appends.push(async move {
                let written = store.append_offline_rows(view, &new_rows, origin).await?;
                Ok::<_, StoreError>((partition.clone(), *view_index, range, written))
            });
        }
        self.stats.update(|s| s.offline_replayed_skipped += skipped);
        // Each append settles on its own: a retry skips the ones that landed.
        for result in futures::future::join_all(appends).await {
            let (partition, view_index, range, written) = result?;
            self.stats.update(|s| s.rows += written);
            // A retry of this batch must not append these offsets again; ranges
            // behind this batch will not be read again.
            if let Some(state) = self.partitions.get_mut(&partition) {
                let ranges = &mut state.stored[view_index];
                ranges.retain(|&(_, last)| last >= range.0);
                ranges.push(range);
                state.appended += 1;
            }
        }
        Ok(())
    }

    /// Merges the committed micro-batch files of partitions that wrote many,
    /// so the offline store does not fill with small files. It runs beside the
    /// ingest (one merge at a time), so a merge never delays the next batch; a
    /// failure is only logged and the files are merged another time.
    fn compact_committed(&mut self) {
        if self
            .compacting
            .as_ref()
            .is_some_and(|task| !task.is_finished())
        {
            return;
        }
        let mut jobs = Vec::new();
        for (partition, state) in &mut self.partitions {
            let Some(&committed) = self.committed_to.get(partition) else {
                continue;
            };
            if state.appended < STREAM_FILES_PER_DAY {
                continue;
            }
            state.appended = 0;
            let scope = CompactScope::Kafka {
                topic: partition.0.clone(),
                partition: partition.1,
                committed,
            };
            for view in self.routes.views(&partition.0) {
                jobs.push((view.clone(), scope.clone()));
            }
        }
        if jobs.is_empty() {
            return;
        }
        let store = self.store.clone();
        self.compacting = Some(tokio::spawn(async move {
            for (view, scope) in jobs {
                if let Err(error) = store.compact_stream_files(&view, scope).await {
                    tracing::warn!(%error, view = view.name(), "merging streamed files failed");
                }
            }
        }));
    }

    fn log_progress(&self) {
        let s = self.stats.snapshot();
        let rejected: u64 = s.rejected.values().sum();
        tracing::info!(
            messages = s.messages,
            batches = s.batches,
            online = s.rows.online,
            online_older_dropped = s.rows.online_dropped_older,
            offline = s.rows.offline,
            rejected,
            retries = s.retries,
            lag = s.total_lag,
            "ingest progress"
        );
    }
}

/// How a batch attempt failed.
enum Failure {
    /// A dependency failed: try the same batch again.
    Retry(String),
    /// The partitions moved on: the batch is someone else's now.
    Rebalanced,
    /// Retrying cannot help (the definitions do not fit the store).
    Fatal(StreamError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error.class() {
            ErrorClass::User | ErrorClass::Conflict => Failure::Fatal(error.into()),
            _ => Failure::Retry(error.to_string()),
        }
    }
}

fn is_rebalance(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::IllegalGeneration
                | Code::RebalanceInProgress
                | Code::UnknownMemberId
                | Code::AssignmentLost
                | Code::State
        )
    )
}
