//! What every generated table shares: per-entity random streams and value rounding.
//!
//! Each entity gets its own ChaCha stream (same key from `seed`, stream number from the
//! table and the entity's index), so an entity's values do not depend on how many
//! entities are generated, and the tables do not share streams.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Which table a random stream belongs to (kept in the stream number's top byte).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Table {
    DriverStats = 1,
    CustomerProfile = 2,
}

/// The random stream of entity `index` (0-based) of `table`.
pub(crate) fn entity_rng(seed: u64, table: Table, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Indexes stay below `MAX_ENTITIES` (2^40), so the table tag never collides with them.
    rng.set_stream(((table as u64) << 56) | index as u64);
    rng
}

/// Rounds to a multiple of `1/scale` so values read like real measurements (0.4821, not 0.48213947).
pub(crate) fn round_f32(x: f32, scale: f32) -> f32 {
    (x * scale).round() / scale
}

pub(crate) fn round_f64(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

pub(crate) const MICROS_PER_SECOND: i64 = 1_000_000;
