//! The Redis online store (single node or Redis Cluster).

mod conn;
mod guard;
mod layout;

use std::fmt;
use std::time::Duration;

use redis::{Cmd, Value as RedisValue};

use crate::codec;
use crate::error::{OnlineError, Result};
use crate::key::EntityKey;
use crate::model::{
    OnlineRow, ReadView, Status, ViewMeta, ViewValues, WriteReport, check_read, check_write,
    duration_us, now_us,
};
use crate::record::{self, RecordReader, RecordWriter};
use crate::store::OnlineStore;
use crate::value::Value;
use conn::Conn;
use guard::{Expiry, GUARD, GuardRow, guard_cmd};

/// Rows per pipeline of guarded writes (one round trip each).
const WRITE_CHUNK: usize = 1000;
/// Rows per guard script call: enough to spread the call's cost, few enough
/// that one call keeps Redis busy well under a millisecond.
const ROWS_PER_SCRIPT: usize = 128;
/// Keys per `SCAN` step and per pipeline of `UNLINK`s when clearing.
const CLEAR_CHUNK: usize = 1000;

/// How to reach and use Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    /// Use the Redis Cluster client; the URL may then list several seed nodes
    /// separated by commas.
    pub cluster: bool,
    /// Let keys expire with their views' TTL: each write keeps the entity key alive
    /// at least until `event_ts + ttl` (wall clock), never shortening a longer
    /// expiry set for another view; a view without TTL makes the key persistent.
    /// Off by default (reads judge the TTL either way).
    pub key_expiry: bool,
    /// Bound on every call to Redis (connecting included).
    pub timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            cluster: false,
            key_expiry: false,
            timeout: Duration::from_secs(2),
        }
    }
}

/// The production online store: one Redis hash per (project, entity key), writes
/// guarded by event time in a server-side script.
///
/// Cloning is cheap and shares the connection. The connection is established
/// lazily and re-established after failures, so a store created while Redis is
/// down starts working when Redis comes back.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    project: String,
    key_expiry: bool,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.conn.shown_url())
            .field("cluster", &self.conn.is_cluster())
            .field("project", &self.project)
            .field("key_expiry", &self.key_expiry)
            .finish()
    }
}

impl RedisStore {
    /// Prepares a store for `project` at `url` (`redis://[:password@]host:port[/db]`,
    /// `rediss://` for TLS is not enabled in this build).
    ///
    /// Does not contact Redis (the first command connects): use
    /// [`ping`](OnlineStore::ping) to check it answers. Must be called inside a
    /// Tokio runtime. Fails with [`OnlineError::Invalid`] for a malformed URL or a
    /// project name that is not an identifier.
    pub async fn connect(url: &str, project: &str, options: RedisOptions) -> Result<Self> {
        if !quiver_core::is_identifier(project) {
            return Err(OnlineError::Invalid(format!(
                "project name `{project}` must be letters, digits and underscores, not starting with a digit"
            )));
        }
        if options.timeout.is_zero() {
            return Err(OnlineError::Invalid(
                "the Redis timeout must be positive".to_string(),
            ));
        }
        let conn = Conn::new(url, options.cluster, options.timeout)?;
        Ok(RedisStore {
            conn,
            project: project.to_string(),
            key_expiry: options.key_expiry,
        })
    }

    /// The project whose keys this store reads and writes.
    pub fn project(&self) -> &str {
        &self.project
    }

    async fn write_chunk(
        &self,
        view: &ViewMeta,
        rows: &[OnlineRow],
        now: i64,
    ) -> Result<WriteReport> {
        let writer = RecordWriter::new(&view.features);
        let guarded: Vec<GuardRow> = rows
            .iter()
            .map(|row| GuardRow {
                key: layout::entity_key(&self.project, &row.key),
                event_ts: row.event_ts,
                created_ts: row.created_ts,
                expiry: key_expiry_for(self.key_expiry, view.ttl, row.event_ts, now),
                record: writer.encode(row.event_ts, row.created_ts, &row.values),
            })
            .collect();
        let batches = self.conn.script_batches(
            guarded.iter().map(|row| row.key.as_slice()),
            ROWS_PER_SCRIPT,
        );
        let cmds: Vec<(Vec<u8>, Cmd)> = batches
            .iter()
            .map(|batch| {
                let rows: Vec<&GuardRow> = batch.iter().map(|&i| &guarded[i]).collect();
                let cmd = guard_cmd(&view.name, &rows);
                (rows[0].key.clone(), cmd)
            })
            .collect();
        let replies = self
            .conn
            .run_script(&GUARD, "writing online rows", &cmds)
            .await?;
        let mut report = WriteReport::default();
        for (batch, reply) in batches.iter().zip(replies) {
            let outcomes = match reply {
                RedisValue::Array(outcomes) if outcomes.len() == batch.len() => outcomes,
                other => {
                    return Err(OnlineError::Backend(format!(
                        "unexpected reply {other:?} from the write guard script"
                    )));
                }
            };
            for outcome in outcomes {
                match outcome {
                    RedisValue::Int(1) => report.written += 1,
                    RedisValue::Int(0) => report.dropped_older += 1,
                    other => {
                        return Err(OnlineError::Backend(format!(
                            "unexpected reply {other:?} from the write guard script"
                        )));
                    }
                }
            }
        }
        Ok(report)
    }

    /// Fills in the values of the (key, view) pairs still stored in the legacy
    /// field-per-feature layout (one more round trip, only while such entities
    /// remain).
    async fn read_legacy(
        &self,
        keys: &[EntityKey],
        views: &[ReadView],
        legacy: &[(usize, usize)],
        answers: &mut [Vec<ViewValues>],
    ) -> Result<()> {
        let cmds: Vec<(Vec<u8>, Cmd)> = legacy
            .iter()
            .map(|&(k, v)| {
                let key = layout::entity_key(&self.project, &keys[k]);
                let mut cmd = redis::cmd("HMGET");
                cmd.arg(&key);
                for feature in &views[v].features {
                    cmd.arg(layout::legacy_feature_field(&views[v].view, feature));
                }
                (key, cmd)
            })
            .collect();
        let replies = self
            .conn
            .bounded("reading online features", self.conn.run(&cmds))
            .await?;
        for (&(k, v), reply) in legacy.iter().zip(replies) {
            let view = &views[v];
            let RedisValue::Array(items) = reply else {
                return Err(OnlineError::Backend(format!(
                    "unexpected HMGET reply {reply:?}"
                )));
            };
            if items.len() != view.features.len() {
                return Err(OnlineError::Backend(format!(
                    "HMGET answered {} fields for {} asked",
                    items.len(),
                    view.features.len()
                )));
            }
            answers[k][v].values = items
                .into_iter()
                .zip(&view.features)
                .map(|(item, feature)| match field_bytes(item)? {
                    None => Ok(Value::Null),
                    Some(bytes) => codec::decode(&bytes).map_err(|e| {
                        OnlineError::Corrupt(format!(
                            "feature `{}:{feature}` of {}: {e}",
                            view.view, keys[k]
                        ))
                    }),
                })
                .collect::<Result<_>>()?;
        }
        Ok(())
    }

    /// Every key of the project on one node (the only node, or one cluster master).
    async fn scan_node(&self, node: Option<(&str, u16)>) -> Result<Vec<Vec<u8>>> {
        let pattern = layout::project_pattern(&self.project);
        let mut cursor = "0".to_string();
        let mut keys = Vec::new();
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(&cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(CLEAR_CHUNK);
            let reply = self
                .conn
                .bounded("scanning keys", self.conn.query_node(cmd, node))
                .await?;
            let (next, batch): (String, Vec<Vec<u8>>) = redis::from_redis_value(reply)
                .map_err(|e| OnlineError::Backend(format!("unexpected SCAN reply: {e}")))?;
            keys.extend(batch);
            if next == "0" {
                return Ok(keys);
            }
            cursor = next;
        }
    }

    /// The masters of the cluster that hold slots, as (host, port).
    async fn cluster_masters(&self) -> Result<Vec<(String, u16)>> {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("NODES");
        let reply = self
            .conn
            .bounded("listing cluster nodes", self.conn.query_node(cmd, None))
            .await?;
        let text: String = redis::from_redis_value(reply)
            .map_err(|e| OnlineError::Backend(format!("unexpected CLUSTER NODES reply: {e}")))?;
        Ok(parse_cluster_masters(&text))
    }
}

/// What a write does to the key's expiry: nothing when key expiry is off, persist
/// for a view without TTL, else keep the key until `event_ts + ttl` (whole ms,
/// rounded up; the script never shortens a longer expiry).
fn key_expiry_for(key_expiry: bool, ttl: Option<Duration>, event_ts: i64, now: i64) -> Expiry {
    if !key_expiry {
        return Expiry::Leave;
    }
    match ttl {
        None => Expiry::Persist,
        Some(ttl) => {
            let keep_us = event_ts
                .saturating_add(duration_us(ttl))
                .saturating_sub(now);
            Expiry::AtLeastMs(keep_us.saturating_add(999).div_euclid(1000))
        }
    }
}

/// Masters with slots from `CLUSTER NODES` output
/// (`<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`).
fn parse_cluster_masters(text: &str) -> Vec<(String, u16)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 {
                return None;
            }
            let flags: Vec<&str> = fields[2].split(',').collect();
            if !flags.contains(&"master") || flags.contains(&"noaddr") {
                return None;
            }
            let addr = fields[1].split(['@', ',']).next()?;
            let (host, port) = addr.rsplit_once(':')?;
            Some((host.to_string(), port.parse().ok()?))
        })
        .collect()
}

fn ts_from_field(bytes: &[u8], key: &EntityKey, view: &str) -> Result<i64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            OnlineError::Corrupt(format!(
                "event time of view `{view}` for {key} is not a decimal integer"
            ))
        })
}

fn record_error(e: OnlineError, key: &EntityKey, view: &str) -> OnlineError {
    match e {
        OnlineError::Corrupt(m) => OnlineError::Corrupt(format!("view `{view}` of {key}: {m}")),
        other => other,
    }
}

fn field_bytes(reply: RedisValue) -> Result<Option<Vec<u8>>> {
    match reply {
        RedisValue::Nil => Ok(None),
        RedisValue::BulkString(b) => Ok(Some(b)),
        RedisValue::SimpleString(s) => Ok(Some(s.into_bytes())),
        other => Err(OnlineError::Backend(format!(
            "unexpected HMGET field reply {other:?}"
        ))),
    }
}

#[async_trait::async_trait]
impl OnlineStore for RedisStore {
    async fn write(&self, view: &ViewMeta, rows: &[OnlineRow]) -> Result<WriteReport> {
        check_write(view, rows)?;
        let now = now_us();
        let mut report = WriteReport::default();
        for chunk in rows.chunks(WRITE_CHUNK) {
            report += self.write_chunk(view, chunk, now).await?;
        }
        Ok(report)
    }

    async fn read(
        &self,
        keys: &[EntityKey],
        views: &[ReadView],
        now_us: i64,
    ) -> Result<Vec<Vec<ViewValues>>> {
        check_read(views)?;
        if keys.is_empty() || views.is_empty() {
            return Ok(vec![Vec::new(); keys.len()]);
        }
        // Per view its record and, for entities still in the legacy layout,
        // its legacy event time field.
        let fields: Vec<String> = views
            .iter()
            .flat_map(|v| [v.view.clone(), layout::legacy_ts_field(&v.view)])
            .collect();
        let cmds: Vec<(Vec<u8>, Cmd)> = keys
            .iter()
            .map(|k| {
                let key = layout::entity_key(&self.project, k);
                let mut cmd = redis::cmd("HMGET");
                cmd.arg(&key).arg(&fields);
                (key, cmd)
            })
            .collect();
        let replies = self
            .conn
            .bounded("reading online features", self.conn.run(&cmds))
            .await?;
        let mut readers: Vec<RecordReader> = views
            .iter()
            .map(|v| RecordReader::new(&v.features))
            .collect();
        let mut legacy = Vec::new();
        let mut answers = Vec::with_capacity(keys.len());
        for (k, (key, reply)) in keys.iter().zip(replies).enumerate() {
            let RedisValue::Array(items) = reply else {
                return Err(OnlineError::Backend(format!(
                    "unexpected HMGET reply {reply:?}"
                )));
            };
            if items.len() != fields.len() {
                return Err(OnlineError::Backend(format!(
                    "HMGET answered {} fields for {} asked",
                    items.len(),
                    fields.len()
                )));
            }
            let mut items = items.into_iter();
            let mut row = Vec::with_capacity(views.len());
            for (v, (view, reader)) in views.iter().zip(readers.iter_mut()).enumerate() {
                let stored = items.next().map(field_bytes).transpose()?.flatten();
                let legacy_ts = items.next().map(field_bytes).transpose()?.flatten();
                let n = view.features.len();
                let answer = match (stored, legacy_ts) {
                    (Some(bytes), _) => {
                        let in_context = |e| record_error(e, key, &view.view);
                        let (event, _) = record::version(&bytes).map_err(in_context)?;
                        ViewValues::found(event, view.ttl, now_us, n, || {
                            reader.values(&bytes).map_err(in_context)
                        })?
                    }
                    (None, Some(ts)) => {
                        let event = ts_from_field(&ts, key, &view.view)?;
                        let answer = ViewValues::found(event, view.ttl, now_us, n, || {
                            Ok(vec![Value::Null; n])
                        })?;
                        if answer.status == Status::Present {
                            legacy.push((k, v));
                        }
                        answer
                    }
                    (None, None) => ViewValues::not_found(n),
                };
                row.push(answer);
            }
            answers.push(row);
        }
        if !legacy.is_empty() {
            self.read_legacy(keys, views, &legacy, &mut answers).await?;
        }
        Ok(answers)
    }

    async fn clear(&self) -> Result<u64> {
        let nodes: Vec<Option<(String, u16)>> = if self.conn.is_cluster() {
            self.cluster_masters()
                .await?
                .into_iter()
                .map(Some)
                .collect()
        } else {
            vec![None]
        };
        let mut removed = 0u64;
        for node in &nodes {
            let keys = self
                .scan_node(node.as_ref().map(|(h, p)| (h.as_str(), *p)))
                .await?;
            for chunk in keys.chunks(CLEAR_CHUNK) {
                let cmds: Vec<(Vec<u8>, Cmd)> = chunk
                    .iter()
                    .map(|k| {
                        let mut cmd = redis::cmd("UNLINK");
                        cmd.arg(k.as_slice());
                        (k.clone(), cmd)
                    })
                    .collect();
                let replies = self
                    .conn
                    .bounded("removing keys", self.conn.run(&cmds))
                    .await?;
                removed += replies
                    .iter()
                    .map(|r| match r {
                        RedisValue::Int(n) => u64::try_from(*n).unwrap_or(0),
                        _ => 0,
                    })
                    .sum::<u64>();
            }
        }
        Ok(removed)
    }

    async fn ping(&self) -> Result<()> {
        let reply = self
            .conn
            .bounded("ping", self.conn.query(&redis::cmd("PING")))
            .await?;
        match reply {
            RedisValue::SimpleString(_) | RedisValue::Okay | RedisValue::BulkString(_) => Ok(()),
            other => Err(OnlineError::Backend(format!(
                "unexpected PING reply {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_masters() {
        let text = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host-a slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460
aaaa 127.0.0.1:30009@31009 master - 0 0 9 connected
";
        assert_eq!(
            parse_cluster_masters(text),
            vec![
                ("127.0.0.1".to_string(), 30002),
                ("127.0.0.1".to_string(), 30003),
                ("127.0.0.1".to_string(), 30001),
            ]
        );
    }

    #[test]
    fn expiry_rounds_up_to_whole_milliseconds() {
        let second = Some(Duration::from_secs(1));
        assert_eq!(key_expiry_for(false, second, 0, 0), Expiry::Leave);
        assert_eq!(key_expiry_for(true, None, 0, 0), Expiry::Persist);
        assert_eq!(key_expiry_for(true, second, 1, 0), Expiry::AtLeastMs(1001));
        assert_eq!(key_expiry_for(true, second, 0, 0), Expiry::AtLeastMs(1000));
        assert_eq!(
            key_expiry_for(true, second, 0, 5_000_000),
            Expiry::AtLeastMs(-4000)
        );
    }
}
