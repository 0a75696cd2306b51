//! `quiver-bench floor`: the same reads as the server's, done directly against
//! Redis with `quiver_online::RedisStore::read` (no HTTP, no JSON): one pipelined
//! round trip per request, the same keys, views, features and TTL judgement. This
//! is the physical limit of a lookup on this machine with this client.

use quiver_online::{EntityKey, OnlineStore, ReadView, RedisOptions, RedisStore, Status, Value};

use crate::drive::Target;
use crate::workload::Workload;

pub struct Floor {
    store: RedisStore,
    key_sets: Vec<Vec<EntityKey>>,
    views: Vec<ReadView>,
}

impl Floor {
    pub async fn connect(url: &str, project: &str, workload: &Workload) -> crate::Result<Self> {
        let store = RedisStore::connect(url, project, RedisOptions::default()).await?;
        store.ping().await?;
        let key_sets = workload
            .key_sets()
            .into_iter()
            .map(|ids| {
                ids.into_iter()
                    .map(|id| EntityKey::new(vec![("driver_id".into(), Value::Int64(id))]))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let views = workload
            .spread()?
            .into_iter()
            .map(|(view, features)| ReadView {
                view,
                features,
                ttl: Some(crate::setup::VIEW_TTL),
            })
            .collect();
        Ok(Floor {
            store,
            key_sets,
            views,
        })
    }

    /// The entity keys of request `i` (the pool of key sets, cycled).
    fn keys(&self, i: u64) -> Option<&Vec<EntityKey>> {
        let n = self.key_sets.len().max(1) as u64;
        self.key_sets.get(usize::try_from(i % n).unwrap_or(0))
    }
}

impl Target for Floor {
    type Reply = Vec<Vec<quiver_online::ViewValues>>;

    async fn call(&self, i: u64) -> Result<Self::Reply, String> {
        let keys = self.keys(i).ok_or("no key sets")?;
        self.store
            .read(keys, &self.views, quiver_online::now_us())
            .await
            .map_err(|e| e.to_string())
    }

    fn check(&self, i: u64, reply: Self::Reply, _full: bool) -> Result<(), String> {
        let expected = self.keys(i).map_or(0, Vec::len);
        if reply.len() != expected {
            return Err(format!(
                "{} answers for {expected} entity keys",
                reply.len()
            ));
        }
        for per_key in &reply {
            if per_key.len() != self.views.len() {
                return Err("an answer lacks a view".into());
            }
            for (values, view) in per_key.iter().zip(&self.views) {
                match values.status {
                    Status::Present if values.values.len() == view.features.len() => {}
                    Status::Present => return Err("an answer lacks values".into()),
                    other => return Err(format!("an answer has {} values", other.as_str())),
                }
            }
        }
        Ok(())
    }
}
