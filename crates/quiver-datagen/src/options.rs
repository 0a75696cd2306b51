//! What to generate: [`GenerateOptions`], and its check against overflow.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::DatagenError;

const MICROS_PER_HOUR: i64 = 3_600_000_000;
/// More entities than this would not fit the id and random-stream numbering.
pub(crate) const MAX_ENTITIES: usize = 1 << 40;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// Sizes, time range and seed of a generated data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of drivers (ids 1001, 1002, ...).
    pub drivers: usize,
    /// Number of customers (ids "C00001", "C00002", ...).
    pub customers: usize,
    /// Hourly rows per driver.
    pub hours: usize,
    /// Daily rows per customer.
    pub days: usize,
    /// The last event time of both tables.
    pub end: DateTime<Utc>,
    /// Same seed (and other options), same values.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        let now = Utc::now();
        // Truncating to the hour cannot fail for a present-day time; fall back to `now` anyway.
        let end = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        GenerateOptions {
            drivers: 100,
            customers: 200,
            hours: 72,
            days: 14,
            end,
            seed: 42,
        }
    }
}

/// A validated series of `count` event times, `step` apart, ending at `end` (all in µs since the epoch).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeGrid {
    pub start_us: i64,
    pub step_us: i64,
    pub count: usize,
}

impl TimeGrid {
    pub fn at(&self, index: usize) -> i64 {
        // In range: `new` checked that the last point fits.
        self.start_us + self.step_us * index as i64
    }
}

impl GenerateOptions {
    /// The driver_stats event times, or an error if they (or the rows) overflow.
    pub(crate) fn driver_grid(&self) -> Result<TimeGrid, DatagenError> {
        self.grid(
            "drivers",
            self.drivers,
            "hours",
            self.hours,
            MICROS_PER_HOUR,
        )
    }

    /// The customer_profile event times, or an error if they (or the rows) overflow.
    pub(crate) fn customer_grid(&self) -> Result<TimeGrid, DatagenError> {
        self.grid(
            "customers",
            self.customers,
            "days",
            self.days,
            MICROS_PER_DAY,
        )
    }

    fn grid(
        &self,
        entities_name: &str,
        entities: usize,
        steps_name: &str,
        steps: usize,
        step_us: i64,
    ) -> Result<TimeGrid, DatagenError> {
        let too_many = || {
            DatagenError::InvalidArgument(format!(
                "{entities_name} = {entities} with {steps_name} = {steps} is too large"
            ))
        };
        // Ids and random stream numbers are derived from the entity index; the row count
        // (with room for correction rows) must fit a usize.
        if entities > MAX_ENTITIES {
            return Err(too_many());
        }
        entities
            .checked_mul(steps)
            .and_then(|rows| rows.checked_mul(2))
            .ok_or_else(too_many)?;
        let end_us = self.end.timestamp_micros();
        let span = i64::try_from(steps.saturating_sub(1))
            .ok()
            .and_then(|n| n.checked_mul(step_us))
            .ok_or_else(too_many)?;
        let start_us = end_us.checked_sub(span).ok_or_else(too_many)?;
        // `created` lies at most a day after the event; every time must stay a valid chrono time.
        let latest_us = end_us.checked_add(MICROS_PER_DAY);
        let valid = |us: Option<i64>| {
            us.and_then(DateTime::<Utc>::from_timestamp_micros)
                .is_some()
        };
        if !valid(Some(start_us)) || !valid(latest_us) {
            return Err(DatagenError::InvalidArgument(format!(
                "{steps_name} = {steps} before end = {} leaves the supported time range",
                self.end.to_rfc3339()
            )));
        }
        Ok(TimeGrid {
            start_us,
            step_us,
            count: steps,
        })
    }
}
