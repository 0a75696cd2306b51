//! The customer_profile rows: one per customer per day.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::DatagenError;
use crate::options::{GenerateOptions, TimeGrid};
use crate::rows::{MICROS_PER_SECOND, Table, entity_rng, round_f32, round_f64};

const NULL_SEGMENT: f64 = 0.01;

/// The id of customer `index` (0-based): "C00001", "C00002", ...
pub fn customer_id(index: usize) -> String {
    format!("C{:05}", index + 1)
}

/// One customer_profile row. Times are microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub customer_id: String,
    pub event_timestamp: i64,
    pub created: i64,
    pub current_balance: f64,
    pub avg_passenger_count: f32,
    pub lifetime_trip_count: i64,
    pub segment: Option<&'static str>,
}

/// A customer's running state; each day moves it on.
struct Customer {
    id: String,
    rng: ChaCha8Rng,
    balance: f64,
    passengers: f32,
    trips: i64,
}

/// All customer_profile rows in file order (customer, then day).
///
/// Holds one customer's state at a time, so memory does not grow with the row count.
pub struct CustomerRows {
    seed: u64,
    customers: usize,
    grid: TimeGrid,
    next_customer: usize,
    current: Option<Customer>,
    day: usize,
}

/// The customer_profile rows for `opts`.
pub fn customer_rows(opts: &GenerateOptions) -> Result<CustomerRows, DatagenError> {
    let grid = opts.customer_grid()?;
    Ok(CustomerRows {
        seed: opts.seed,
        customers: if grid.count == 0 { 0 } else { opts.customers },
        grid,
        next_customer: 0,
        current: None,
        day: 0,
    })
}

impl Iterator for CustomerRows {
    type Item = CustomerRow;

    fn next(&mut self) -> Option<CustomerRow> {
        loop {
            if let Some(customer) = self.current.as_mut() {
                if self.day < self.grid.count {
                    let event = self.grid.at(self.day);
                    self.day += 1;
                    return Some(customer.day_row(event));
                }
                self.current = None;
            }
            if self.next_customer >= self.customers {
                return None;
            }
            self.current = Some(Customer::new(self.seed, self.next_customer));
            self.next_customer += 1;
            self.day = 0;
        }
    }
}

impl Customer {
    fn new(seed: u64, index: usize) -> Self {
        let mut rng = entity_rng(seed, Table::CustomerProfile, index);
        Customer {
            id: customer_id(index),
            balance: rng.random_range(0.0f64..=2000.0),
            passengers: rng.random_range(1.0f32..=3.5),
            trips: rng.random_range(0i64..=1500),
            rng,
        }
    }

    fn day_row(&mut self, event: i64) -> CustomerRow {
        let rng = &mut self.rng;
        let created = event + rng.random_range(MICROS_PER_SECOND..=3600 * MICROS_PER_SECOND);
        self.balance = round_f64(
            (self.balance + rng.random_range(-150.0f64..=150.0)).max(0.0),
            100.0,
        );
        let passengers = round_f32(
            (self.passengers + rng.random_range(-0.3f32..=0.3)).max(1.0),
            100.0,
        );
        // Trips only accumulate: the count never decreases over a customer's rows.
        self.trips += rng.random_range(0i64..=6);
        let segment_null = rng.random_bool(NULL_SEGMENT);
        CustomerRow {
            customer_id: self.id.clone(),
            event_timestamp: event,
            created,
            current_balance: self.balance,
            avg_passenger_count: passengers,
            lifetime_trip_count: self.trips,
            segment: (!segment_null).then_some(segment(self.trips)),
        }
    }
}

/// Frequent riders rank higher.
fn segment(lifetime_trips: i64) -> &'static str {
    match lifetime_trips {
        ..300 => "bronze",
        300..900 => "silver",
        _ => "gold",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_zero_padded() {
        assert_eq!(customer_id(0), "C00001");
        assert_eq!(customer_id(41), "C00042");
    }

    #[test]
    fn trip_counts_never_decrease_and_segments_vary() {
        let opts = GenerateOptions {
            customers: 100,
            days: 30,
            ..GenerateOptions::default()
        };
        let rows: Vec<_> = customer_rows(&opts).unwrap().collect();
        assert_eq!(rows.len(), 100 * 30);
        for pair in rows.windows(2) {
            if pair[0].customer_id == pair[1].customer_id {
                assert!(pair[1].lifetime_trip_count >= pair[0].lifetime_trip_count);
                assert!(pair[1].event_timestamp > pair[0].event_timestamp);
            }
        }
        for name in ["bronze", "silver", "gold"] {
            assert!(rows.iter().any(|r| r.segment == Some(name)), "{name}");
        }
        assert!(rows.iter().any(|r| r.segment.is_none()));
    }
}
