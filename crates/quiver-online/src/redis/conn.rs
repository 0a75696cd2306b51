//! The connection: a self-reconnecting single-node manager or the cluster client,
//! every call bounded by the configured timeout, errors mapped to
//! [`OnlineError`].

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

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
    Cluster(ClusterConnection),
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
        let shown_url = quiver_core::redact_url(url);
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
            Link::Cluster(client.get_pending_async_connection_with_config(config))
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

    /// Runs `call` within the timeout; maps failures to [`OnlineError`].
    pub(crate) async fn bounded<T>(
        &self,
        what: &str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(classify(&self.shown_url, what, e)),
            Err(_) => Err(self.timed_out(what)),
        }
    }

    /// Sends one command (routed by the command's own routing in a cluster).
    pub(crate) async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        match &self.link {
            Link::Single(m) => cmd.query_async(&mut m.clone()).await,
            Link::Cluster(c) => cmd.query_async(&mut c.clone()).await,
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
            Link::Cluster(c) => {
                let route = match node {
                    Some((host, port)) => SingleNodeRoutingInfo::ByAddress {
                        host: host.to_string(),
                        port,
                    },
                    None => SingleNodeRoutingInfo::Random,
                };
                c.clone()
                    .route_command(cmd, RoutingInfo::SingleNode(route))
                    .await
            }
        }
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
            Link::Cluster(c) => {
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
        let first = tokio::time::timeout(self.timeout, self.run(cmds)).await;
        match first {
            Ok(Ok(replies)) => return Ok(replies),
            Ok(Err(e)) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                tracing::debug!(url = %self.shown_url, "loading the online write guard script");
            }
            Ok(Err(e)) => return Err(classify(&self.shown_url, what, e)),
            Err(_) => return Err(self.timed_out(what)),
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
            Link::Cluster(c) => script.prepare_invoke().load_async(&mut c.clone()).await?,
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
