//! The driver_stats rows: one per driver per hour, plus rare late corrections.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::DatagenError;
use crate::options::{GenerateOptions, TimeGrid};
use crate::rows::{MICROS_PER_SECOND, Table, entity_rng, round_f32};

/// The first driver id; driver `i` (0-based) is `FIRST_DRIVER_ID + i`.
pub const FIRST_DRIVER_ID: i64 = 1001;

const NULL_CONV_RATE: f64 = 0.01;
const NULL_TRIPS: f64 = 0.01;
const LATE_CORRECTION: f64 = 0.005;

/// One driver_stats row. Times are microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct DriverRow {
    pub driver_id: i64,
    pub event_timestamp: i64,
    pub created: i64,
    pub conv_rate: Option<f32>,
    pub acc_rate: Option<f32>,
    pub avg_daily_trips: Option<i64>,
}

/// What a driver is like; its hourly rows scatter around these.
struct Driver {
    id: i64,
    rng: ChaCha8Rng,
    conv_rate: f32,
    acc_rate: f32,
    trips: i64,
}

/// All driver_stats rows in file order (driver, then time; a correction right after its original).
///
/// Holds one driver's state at a time, so memory does not grow with the row count.
pub struct DriverRows {
    seed: u64,
    drivers: usize,
    grid: TimeGrid,
    next_driver: usize,
    current: Option<Driver>,
    hour: usize,
    correction: Option<DriverRow>,
}

/// The driver_stats rows for `opts`.
pub fn driver_rows(opts: &GenerateOptions) -> Result<DriverRows, DatagenError> {
    let grid = opts.driver_grid()?;
    Ok(DriverRows {
        seed: opts.seed,
        // No hours, no rows: skip walking through drivers that have nothing to say.
        drivers: if grid.count == 0 { 0 } else { opts.drivers },
        grid,
        next_driver: 0,
        current: None,
        hour: 0,
        correction: None,
    })
}

impl Iterator for DriverRows {
    type Item = DriverRow;

    fn next(&mut self) -> Option<DriverRow> {
        if let Some(row) = self.correction.take() {
            return Some(row);
        }
        loop {
            if let Some(driver) = self.current.as_mut() {
                if self.hour < self.grid.count {
                    let event = self.grid.at(self.hour);
                    self.hour += 1;
                    let (row, correction) = driver.hour_row(event);
                    self.correction = correction;
                    return Some(row);
                }
                self.current = None;
            }
            if self.next_driver >= self.drivers {
                return None;
            }
            self.current = Some(Driver::new(self.seed, self.next_driver));
            self.next_driver += 1;
            self.hour = 0;
        }
    }
}

impl Driver {
    fn new(seed: u64, index: usize) -> Self {
        let mut rng = entity_rng(seed, Table::DriverStats, index);
        Driver {
            // `index` < MAX_ENTITIES (2^40), checked by the options, so this cannot overflow.
            id: FIRST_DRIVER_ID + index as i64,
            conv_rate: rng.random_range(0.05f32..=0.95),
            acc_rate: rng.random_range(0.30f32..=1.0),
            trips: rng.random_range(20i64..=900),
            rng,
        }
    }

    /// The row of one hour, and maybe a late correction of it.
    fn hour_row(&mut self, event: i64) -> (DriverRow, Option<DriverRow>) {
        let rng = &mut self.rng;
        // Draw every value unconditionally so the stream advances the same way whatever the outcome.
        let created = event + rng.random_range(MICROS_PER_SECOND..=600 * MICROS_PER_SECOND);
        let conv_rate = jitter(rng, self.conv_rate, 0.10);
        let acc_rate = jitter(rng, self.acc_rate, 0.05);
        let trips = (self.trips + rng.random_range(-30i64..=30)).clamp(0, 1000);
        let conv_null = rng.random_bool(NULL_CONV_RATE);
        let trips_null = rng.random_bool(NULL_TRIPS);
        let corrected = rng.random_bool(LATE_CORRECTION);
        let row = DriverRow {
            driver_id: self.id,
            event_timestamp: event,
            created,
            conv_rate: (!conv_null).then_some(conv_rate),
            acc_rate: Some(acc_rate),
            avg_daily_trips: (!trips_null).then_some(trips),
        };
        if !corrected {
            return (row, None);
        }
        // A later `created` with other values: the trip count always moves, so the rows differ.
        let delay = rng.random_range(600 * MICROS_PER_SECOND..=6 * 3600 * MICROS_PER_SECOND);
        let shift = rng.random_range(1i64..=25);
        let correction = DriverRow {
            created: created + delay,
            conv_rate: Some(jitter(rng, self.conv_rate, 0.10)),
            acc_rate: Some(jitter(rng, self.acc_rate, 0.05)),
            avg_daily_trips: Some(if trips >= 500 {
                trips - shift
            } else {
                trips + shift
            }),
            ..row.clone()
        };
        (row, Some(correction))
    }
}

/// `base` plus uniform noise of ±`spread`, kept in 0..=1 and rounded to 4 places.
fn jitter(rng: &mut ChaCha8Rng, base: f32, spread: f32) -> f32 {
    round_f32(
        (base + rng.random_range(-spread..=spread)).clamp(0.0, 1.0),
        10_000.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(drivers: usize, seed: u64) -> GenerateOptions {
        GenerateOptions {
            drivers,
            hours: 48,
            seed,
            ..GenerateOptions::default()
        }
    }

    #[test]
    fn a_driver_does_not_depend_on_the_driver_count() {
        let few: Vec<_> = driver_rows(&opts(3, 7)).unwrap().collect();
        let many: Vec<_> = driver_rows(&opts(50, 7)).unwrap().collect();
        assert_eq!(few[..], many[..few.len()]);
        assert_eq!(few.last().unwrap().driver_id, 1003);
    }

    #[test]
    fn corrections_follow_their_original() {
        let rows: Vec<_> = driver_rows(&opts(200, 1)).unwrap().collect();
        let mut corrections = 0;
        for pair in rows.windows(2) {
            if pair[0].driver_id == pair[1].driver_id
                && pair[0].event_timestamp == pair[1].event_timestamp
            {
                corrections += 1;
                assert!(pair[1].created > pair[0].created);
                assert_ne!(pair[0].avg_daily_trips, pair[1].avg_daily_trips);
            }
        }
        assert!(corrections > 0);
        assert_eq!(rows.len(), 200 * 48 + corrections);
    }
}
