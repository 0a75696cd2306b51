//! Which views each Kafka topic feeds.

use std::collections::BTreeMap;

use quiver_core::SourceKind;
use quiver_store::{Applied, IngestView};

use crate::error::{Result, StreamError};

/// Topics and the views their messages are written to.
#[derive(Debug, Clone)]
pub struct Routes {
    by_topic: BTreeMap<String, Vec<IngestView>>,
    /// The cluster named by the sources themselves, when they name one.
    source_bootstrap: Option<String>,
}

impl Routes {
    /// The views with a Kafka stream source (only those named in `only`, when given).
    pub fn new(applied: &Applied, only: &[String]) -> Result<Self> {
        for name in only {
            if applied.spec.feature_view(name).is_none() {
                return Err(StreamError::Config(format!(
                    "unknown feature view `{name}`"
                )));
            }
        }
        let mut by_topic: BTreeMap<String, Vec<IngestView>> = BTreeMap::new();
        let mut clusters: Vec<String> = Vec::new();
        for view in &applied.spec.feature_views {
            if !only.is_empty() && !only.contains(&view.name) {
                continue;
            }
            let Some(source) = view
                .stream_source
                .as_deref()
                .and_then(|s| applied.spec.source(s))
            else {
                continue;
            };
            let SourceKind::Kafka {
                topic,
                bootstrap_servers,
                ..
            } = &source.kind
            else {
                continue;
            };
            if let Some(servers) = bootstrap_servers.as_ref().filter(|s| !s.is_empty())
                && !clusters.contains(servers)
            {
                clusters.push(servers.clone());
            }
            let ingest = IngestView::new(&applied.spec, &view.name, source)?;
            by_topic.entry(topic.clone()).or_default().push(ingest);
        }
        if by_topic.is_empty() {
            return Err(StreamError::Config(if only.is_empty() {
                "no feature view has a kafka `stream_source`; nothing to ingest".into()
            } else {
                format!(
                    "none of the views {} has a kafka `stream_source`",
                    only.join(", ")
                )
            }));
        }
        if clusters.len() > 1 {
            return Err(StreamError::Config(format!(
                "the kafka sources name different clusters ({}); run one `quiver ingest --views ...` per cluster",
                clusters.join(" and ")
            )));
        }
        Ok(Routes {
            by_topic,
            source_bootstrap: clusters.pop(),
        })
    }

    pub fn topics(&self) -> Vec<&str> {
        self.by_topic.keys().map(String::as_str).collect()
    }

    pub fn views(&self, topic: &str) -> &[IngestView] {
        self.by_topic.get(topic).map_or(&[], Vec::as_slice)
    }

    pub fn source_bootstrap(&self) -> Option<&str> {
        self.source_bootstrap.as_deref()
    }
}
