//! `quiver-bench load`: the HTTP load generator against `quiver serve`.
//!
//! Keep-alive connections (a shared pool, at most as many as requests in flight),
//! request bodies built beforehand (a pool of random entity sets, cycled), every
//! answer read completely before its latency is taken. An answer counts as an
//! error when its status is not 200 or when any value is `NOT_FOUND` or
//! `OUTSIDE_MAX_AGE` (every requested entity exists in the bench repo).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use crate::drive::{Mode, Target};
use crate::workload::Workload;

pub struct Http {
    client: reqwest::Client,
    url: String,
    bodies: Vec<Vec<u8>>,
    entities: usize,
    features: usize,
}

impl Http {
    pub fn new(base_url: &str, workload: &Workload, mode: Mode) -> crate::Result<Self> {
        let in_flight = match mode {
            Mode::Rate { connections, .. } => connections,
            Mode::Saturate { concurrency } => concurrency,
        };
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(in_flight.max(1))
            .pool_idle_timeout(Duration::from_secs(300))
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        let bodies = workload.bodies()?;
        Ok(Http {
            client,
            url: format!("{}/get-online-features", base_url.trim_end_matches('/')),
            bodies,
            entities: workload.entities,
            features: workload.features,
        })
    }

    fn body(&self, i: u64) -> Vec<u8> {
        let n = self.bodies.len().max(1) as u64;
        self.bodies
            .get(usize::try_from(i % n).unwrap_or(0))
            .cloned()
            .unwrap_or_default()
    }
}

impl Target for Http {
    type Reply = String;

    async fn call(&self, i: u64) -> Result<String, String> {
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.body(i))
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {}: {}", status.as_u16(), text.trim()));
        }
        Ok(text)
    }

    fn check(&self, _i: u64, text: String, full: bool) -> Result<(), String> {
        // Feature values are numbers, so these words can only be statuses.
        if text.contains("\"NOT_FOUND\"") {
            return Err("an answer has NOT_FOUND values".into());
        }
        if text.contains("\"OUTSIDE_MAX_AGE\"") {
            return Err("an answer has OUTSIDE_MAX_AGE values".into());
        }
        if full {
            check_shape(&text, self.entities, self.features)?;
        }
        Ok(())
    }
}

/// The answer has the join key column plus one column per feature, each with one
/// value per entity, all `PRESENT`.
fn check_shape(text: &str, entities: usize, features: usize) -> Result<(), String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("bad JSON answer: {e}"))?;
    let names = json["metadata"]["feature_names"]
        .as_array()
        .map_or(0, Vec::len);
    let results = json["results"]
        .as_array()
        .ok_or("no results in the answer")?;
    if names != features + 1 || results.len() != features + 1 {
        return Err(format!(
            "expected {} columns (driver_id + {features} features), got {names} names and {} results",
            features + 1,
            results.len()
        ));
    }
    for result in results {
        let values = result["values"].as_array().map_or(0, Vec::len);
        let statuses = result["statuses"]
            .as_array()
            .ok_or("a result has no statuses")?;
        if values != entities || statuses.len() != entities {
            return Err(format!(
                "a column has {values} values for {entities} entities"
            ));
        }
        if let Some(bad) = statuses.iter().find(|s| s.as_str() != Some("PRESENT")) {
            return Err(format!("a value has status {bad}"));
        }
    }
    Ok(())
}

pub fn target(base_url: &str, workload: &Workload, mode: Mode) -> crate::Result<Arc<Http>> {
    Ok(Arc::new(Http::new(base_url, workload, mode)?))
}
