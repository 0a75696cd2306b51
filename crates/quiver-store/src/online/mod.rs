//! The online half of the feature store: writing the latest rows into the
//! online store, and online lookups.

mod convert;
mod lookup;
mod materialize;
mod plan;

use std::sync::Arc;

use quiver_core::OnlineStoreConfig;
use quiver_online::{EmbeddedStore, OnlineStore, RedisOptions, RedisStore};

pub(crate) use convert::value_column;
pub use convert::{arrow_value, json_value, key_from_json};
pub use lookup::{
    AnswerValue, EventTime, FeastAnswers, OnlineAnswer, OnlineRequest, OnlineResponse, OnlineResult,
};
pub use materialize::OnlineWrite;
pub(crate) use materialize::view_meta;
pub(crate) use plan::PlanCache;

use crate::error::Result;
use crate::store::FeatureStore;

impl FeatureStore {
    /// The configured online store, connected on first use and then shared.
    pub async fn online(&self) -> Result<Arc<dyn OnlineStore>> {
        let store = self
            .online
            .get_or_try_init(|| async {
                let store: Arc<dyn OnlineStore> = match &self.config.online_store {
                    OnlineStoreConfig::Embedded { path } => {
                        let dir = self.repo_root.join(path);
                        let project = self.project().to_string();
                        Arc::new(
                            tokio::task::spawn_blocking(move || {
                                EmbeddedStore::open(&dir, &project)
                            })
                            .await
                            .map_err(|e| {
                                quiver_online::OnlineError::Unavailable(format!(
                                    "cannot open the embedded store: {e}"
                                ))
                            })??,
                        )
                    }
                    OnlineStoreConfig::Redis {
                        url,
                        cluster,
                        key_expiry,
                    } => {
                        let options = RedisOptions {
                            cluster: *cluster,
                            key_expiry: *key_expiry,
                            ..RedisOptions::default()
                        };
                        Arc::new(RedisStore::connect(url, self.project(), options).await?)
                    }
                };
                Ok::<_, crate::error::StoreError>(store)
            })
            .await?;
        Ok(store.clone())
    }
}
