//! Feast's `POST /write-to-online-store`: rows of one feature view, named by
//! the view's own join keys and features, written online through the same
//! decoding, checks and event-time guard as a push. Feast's client sends its
//! pushes and its remote-store writes this way.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::push::records;
use super::{IngestView, PushOutcome, RowDecoder, WriteTarget};
use crate::error::{Result, StoreError};
use crate::store::{Applied, FeatureStore};

/// The event time column Feast's client sends whatever the source calls it.
const FEAST_EVENT_TIMESTAMP: &str = "event_timestamp";
/// The created time column Feast's client sends (values may be null).
const FEAST_CREATED: &str = "created";

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteRequest {
    pub feature_view_name: String,
    /// Column name -> one value per row: the view's join keys and features,
    /// the event time (the source's `timestamp_field`, or `event_timestamp`)
    /// and optionally the created time (`created_timestamp_field`, or `created`).
    #[schema(value_type = HashMap<String, Vec<serde_json::Value>>)]
    pub df: Map<String, Json>,
    /// Feast's flag; quiver always reads the current registry.
    #[serde(default)]
    pub allow_registry_cache: Option<bool>,
    /// Feast's flag for on-demand transformations, which quiver does not have:
    /// accepted and ignored.
    #[serde(default)]
    pub transform_on_write: Option<bool>,
}

impl FeatureStore {
    /// Validates every row, then writes them online (all or nothing).
    pub async fn write_to_online_store(
        &self,
        applied: &Applied,
        request: &WriteRequest,
    ) -> Result<PushOutcome> {
        let records = records(&request.df)?;
        self.write_view_records(
            applied,
            &request.feature_view_name,
            &records,
            WriteTarget::Online,
        )
        .await
    }

    /// Rows of view `name` under its own join key and feature names (and the
    /// source's or Feast's timestamp names), validated, checked and written
    /// to `target`: all or nothing before the first write.
    pub async fn write_view_records(
        &self,
        applied: &Applied,
        name: &str,
        records: &[Map<String, Json>],
        target: WriteTarget,
    ) -> Result<PushOutcome> {
        let spec = applied
            .spec
            .feature_view(name)
            .ok_or_else(|| StoreError::NotFound {
                kind: quiver_core::ObjectKind::FeatureView,
                name: name.to_string(),
                message: format!("unknown feature view `{name}`"),
            })?;
        if target.online() && !spec.online {
            return Err(StoreError::Request(format!(
                "view `{name}` is not online (`online: false`); nothing can be written online"
            )));
        }
        let source = applied.spec.source(&spec.source).ok_or_else(|| {
            StoreError::Internal(format!(
                "view `{name}` reads unknown source `{}`",
                spec.source
            ))
        })?;
        let present = |field: &str| records.first().is_some_and(|r| r.contains_key(field));
        let timestamp_field = [source.timestamp_field.as_str(), FEAST_EVENT_TIMESTAMP]
            .into_iter()
            .find(|f| present(f))
            .ok_or_else(|| {
                StoreError::Request(format!(
                    "the rows have no event time column: give `{}` (the source's timestamp_field) or `{FEAST_EVENT_TIMESTAMP}`",
                    source.timestamp_field
                ))
            })?;
        let created_field = [
            source.created_timestamp_field.as_deref(),
            Some(FEAST_CREATED),
        ]
        .into_iter()
        .flatten()
        .find(|f| present(f));
        let mut view = IngestView::new(&applied.spec, name, source)?;
        view.decoder = RowDecoder::by_name(
            &view.schema.view,
            &view.schema.keys,
            timestamp_field,
            created_field,
        );
        self.write_records(&[view], records, target).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn feasts_write_request_is_read_in_full() {
        // What feast 0.67's remote online store posts.
        let request: WriteRequest = serde_json::from_value(json!({
            "feature_view_name": "driver_hourly_stats",
            "df": {"driver_id": [1001], "conv_rate": [0.5], "event_timestamp": ["2024-01-01T00:00:00"], "created": [null]},
            "allow_registry_cache": false,
        }))
        .unwrap();
        assert_eq!(request.feature_view_name, "driver_hourly_stats");
        assert_eq!(request.allow_registry_cache, Some(false));
        // Feast's documented curl body.
        let request: WriteRequest = serde_json::from_value(json!({
            "feature_view_name": "v", "df": {}, "allow_registry_cache": true, "transform_on_write": true,
        }))
        .unwrap();
        assert_eq!(request.transform_on_write, Some(true));
        let error = serde_json::from_value::<WriteRequest>(
            json!({"feature_view_name": "v", "df": {}, "to": "online"}),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("unknown field `to`"), "{error}");
        let error = serde_json::from_value::<WriteRequest>(json!({"df": {}}))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("missing field `feature_view_name`"),
            "{error}"
        );
    }

    #[test]
    fn feasts_push_request_is_read_in_full() {
        let request: super::super::PushRequest = serde_json::from_value(json!({
            "push_source_name": "driver_stats_push",
            "df": {"driver_id": [1001]},
            "to": "online_and_offline",
            "allow_registry_cache": true,
            "transform_on_write": false,
        }))
        .unwrap();
        assert_eq!(request.to, WriteTarget::OnlineAndOffline);
        assert_eq!(request.transform_on_write, Some(false));
    }
}
