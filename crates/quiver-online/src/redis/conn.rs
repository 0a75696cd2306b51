//! The connection: a self-reconnecting single-node manager or the cluster client,
//! every call bounded by the configured timeout, errors mapped to
//! [`OnlineError`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo, Slot};
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisResult, ServerErrorKind, Value};

use crate::error::{OnlineError, Result};

/// Reconnect attempts per call while Redis is down: fail fast (the caller gets 503
/// and retries); the next call starts a fresh attempt.
const RECONNECT_RETRIES: usize = 1;

#[derive(Clone)]
enum Link {
    Single(ConnectionManager),
    Cluster(Arc<ClusterLink>),
}

/// The cluster connection, replaced by a fresh one after an availability failure.
///
/// The redis crate's async cluster connection recovers from a restarted node when
/// few requests are in flight, but with many concurrent requests failing against a
/// dead node it can stop answering for good (seen with redis 1.8.1: every later
/// call times out even after the node is back). A fresh connection from the same
/// client works, so after a failure the link starts over, at most once per
/// `rebuild_every`.
struct ClusterLink {
    client: ClusterClient,
    config: ClusterConfig,
    rebuild_every: Duration,
    state: Mutex<ClusterState>,
}

struct ClusterState {
    generation: u64,
    conn: ClusterConnection,
    built_at: Instant,
}

impl ClusterLink {
    fn current(&self) -> (u64, ClusterConnection) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.generation, state.conn.clone())
    }

    /// Starts a new connection if `generation` is still the current one and the
    /// current one is old enough.
    fn rebuild(&self, generation: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.generation != generation || state.built_at.elapsed() < self.rebuild_every {
            return;
        }
        tracing::warn!("rebuilding the Redis Cluster connection after a failure");
        state.conn = self
            .client
            .get_pending_async_connection_with_config(self.config.clone());
        state.generation += 1;
        state.built_at = Instant::now();
    }
}

/// A cheap-to-clone handle on Redis.
#[derive(Clone)]
pub(crate) struct Conn {
    link: Link,
    /// The password-redacted URL, for messages.
    shown_url: String,
    timeout: Duration,
}

impl Conn {
    /// Prepares the connection without contacting Redis: the first command
    /// connects, so a store can be created while Redis is down and recover when it
    /// comes back.
    pub(crate) fn new(url: &str, cluster: bool, timeout: Duration) -> Result<Self> {
        // A cluster URL may list several nodes, each with its password.
        let shown_url = url
            .split(',')
            .map(|u| quiver_core::redact_url(u.trim()))
            .collect::<Vec<_>>()
            .join(",");
        let invalid =
            |e: RedisError| OnlineError::Invalid(format!("invalid Redis URL {shown_url}: {e}"));
        let link = if cluster {
            let nodes: Vec<&str> = url.split(',').map(str::trim).collect();
            let client = ClusterClient::builder(nodes)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(2)
                .build()
                .map_err(invalid)?;
            let config = ClusterConfig::new()
                .set_connection_timeout(timeout)
                .set_response_timeout(timeout);
            let conn = client.get_pending_async_connection_with_config(config.clone());
            Link::Cluster(Arc::new(ClusterLink {
                client,
                config,
                rebuild_every: timeout.max(Duration::from_secs(1)),
                state: Mutex::new(ClusterState {
                    generation: 0,
                    conn,
                    built_at: Instant::now(),
                }),
            }))
        } else {
            let client = redis::Client::open(url).map_err(invalid)?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(RECONNECT_RETRIES)
                .set_min_delay(Duration::from_millis(50))
                .set_max_delay(Duration::from_secs(1));
            let manager = ConnectionManager::new_lazy_with_config(client, config)
                .map_err(|e| classify(&shown_url, "connecting", e))?;
            Link::Single(manager)
        };
        Ok(Conn {
            link,
            shown_url,
            timeout,
        })
    }

    pub(crate) fn shown_url(&self) -> &str {
        &self.shown_url
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster(_))
    }

    /// Runs `call` within the timeout; maps failures to [`OnlineError`]. After an
    /// availability failure a cluster link starts over (see [`ClusterLink`]).
    pub(crate) async fn bounded<T>(
        &self,
        what: &str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T> {
        let generation = self.generation();
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => classify(&self.shown_url, what, e),
            Err(_) => self.timed_out(what),
        };
        self.after_failure(generation, &result);
        Err(result)
    }

    fn generation(&self) -> u64 {
        match &self.link {
            Link::Single(_) => 0,
            Link::Cluster(link) => link.current().0,
        }
    }

    fn after_failure(&self, generation: u64, error: &OnlineError) {
        if let (Link::Cluster(link), true) = (&self.link, error.is_unavailable()) {
            link.rebuild(generation);
        }
    }

    /// Sends one command (routed by the command's own routing in a cluster).
    pub(crate) async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        match &self.link {
            Link::Single(m) => cmd.query_async(&mut m.clone()).await,
            Link::Cluster(link) => cmd.query_async(&mut link.current().1).await,
        }
    }

    /// Sends one command to one node: in a cluster the node at `node` (host, port),
    /// or any node when `None`; on a single node simply to it.
    pub(crate) async fn query_node(
        &self,
        cmd: Cmd,
        node: Option<(&str, u16)>,
    ) -> RedisResult<Value> {
        match &self.link {
            Link::Single(m) => cmd.query_async(&mut m.clone()).await,
            Link::Cluster(link) => {
                let route = match node {
                    Some((host, port)) => SingleNodeRoutingInfo::ByAddress {
                        host: host.to_string(),
                        port,
                    },
                    None => SingleNodeRoutingInfo::Random,
                };
                link.current()
                    .1
                    .route_command(cmd, RoutingInfo::SingleNode(route))
                    .await
            }
        }
    }

    /// The rows (by their keys, in order) as batches of at most `most` row
    /// indexes that one script call may take: on a cluster, the keys of one
    /// batch share a slot. Rows keep their order within a batch, and the
    /// batches of one slot keep theirs, so the rows of an entity stay in order.
    pub(crate) fn script_batches<'a>(
        &self,
        keys: impl Iterator<Item = &'a [u8]>,
        most: usize,
    ) -> Vec<Vec<usize>> {
        let indexes: Vec<(usize, &[u8])> = keys.enumerate().collect();
        let groups: Vec<Vec<usize>> = match &self.link {
            Link::Single(_) => vec![indexes.iter().map(|(i, _)| *i).collect()],
            Link::Cluster(_) => {
                let mut by_slot: HashMap<Slot, Vec<usize>> = HashMap::new();
                for (i, key) in &indexes {
                    by_slot.entry(Slot::for_key(key)).or_default().push(*i);
                }
                by_slot.into_values().collect()
            }
        };
        groups
            .into_iter()
            .flat_map(|group| {
                group
                    .chunks(most.max(1))
                    .map(<[usize]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .filter(|batch| !batch.is_empty())
            .collect()
    }

    /// Runs commands that each touch only the key given beside them and returns
    /// their replies in order. Single node: one pipeline, one round trip. Cluster:
    /// one pipeline per slot, all in flight at once. A server error in any reply
    /// fails the whole call (the first error is returned).
    pub(crate) async fn run(&self, cmds: &[(Vec<u8>, Cmd)]) -> RedisResult<Vec<Value>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        match &self.link {
            Link::Single(m) => {
                let mut pipe = Pipeline::with_capacity(cmds.len());
                for (_, cmd) in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query_async(&mut m.clone()).await
            }
            Link::Cluster(link) => {
                let c = link.current().1;
                let total = cmds.len();
                let mut groups: HashMap<Slot, (Vec<usize>, Pipeline)> = HashMap::new();
                for (i, (key, cmd)) in cmds.iter().enumerate() {
                    let group = groups.entry(Slot::for_key(key)).or_default();
                    group.0.push(i);
                    group.1.add_command(cmd.clone());
                }
                let calls = groups.into_values().map(|(indexes, pipe)| {
                    let mut conn = c.clone();
                    async move {
                        let replies: Vec<Value> = pipe.query_async(&mut conn).await?;
                        Ok::<_, RedisError>((indexes, replies))
                    }
                });
                let mut out = vec![Value::Nil; total];
                for (indexes, replies) in futures::future::try_join_all(calls).await? {
                    for (i, reply) in indexes.into_iter().zip(replies) {
                        out[i] = reply;
                    }
                }
                Ok(out)
            }
        }
    }

    /// Runs script calls like [`run`](Self::run); when the server's script cache
    /// lacks the script (first use, Redis restarted, `SCRIPT FLUSH`) loads it and
    /// runs the calls once more. Retrying is safe: guarded writes are idempotent.
    pub(crate) async fn run_script(
        &self,
        script: &redis::Script,
        what: &str,
        cmds: &[(Vec<u8>, Cmd)],
    ) -> Result<Vec<Value>> {
        let generation = self.generation();
        let first = tokio::time::timeout(self.timeout, self.run(cmds)).await;
        let error = match first {
            Ok(Ok(replies)) => return Ok(replies),
            Ok(Err(e)) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                tracing::debug!(url = %self.shown_url, "loading the online write guard script");
                None
            }
            Ok(Err(e)) => Some(classify(&self.shown_url, what, e)),
            Err(_) => Some(self.timed_out(what)),
        };
        if let Some(error) = error {
            self.after_failure(generation, &error);
            return Err(error);
        }
        self.bounded("loading the guard script", self.load_script(script))
            .await?;
        self.bounded(what, self.run(cmds)).await
    }

    fn timed_out(&self, what: &str) -> OnlineError {
        OnlineError::Unavailable(format!(
            "Redis at {} did not answer within {:?} ({what})",
            self.shown_url, self.timeout
        ))
    }

    /// Loads a script (on every node of a cluster).
    pub(crate) async fn load_script(&self, script: &redis::Script) -> RedisResult<()> {
        match &self.link {
            Link::Single(m) => script.prepare_invoke().load_async(&mut m.clone()).await?,
            Link::Cluster(link) => {
                script
                    .prepare_invoke()
                    .load_async(&mut link.current().1)
                    .await?
            }
        };
        Ok(())
    }
}

/// Availability problems become [`OnlineError::Unavailable`], everything else
/// [`OnlineError::Backend`].
fn classify(shown_url: &str, what: &str, e: RedisError) -> OnlineError {
    let message = format!("Redis at {shown_url} ({what}): {e}");
    if is_unavailable(&e) {
        OnlineError::Unavailable(message)
    } else {
        OnlineError::Backend(message)
    }
}

fn is_unavailable(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::AuthenticationFailed
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        )
}
