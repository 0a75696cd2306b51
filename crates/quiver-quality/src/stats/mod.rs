//! One-pass, mergeable statistics of a feature's values.
//!
//! A [`FeatureStats`] is created for an Arrow type, fed that feature's arrays
//! one batch at a time, merged with accumulators filled on other partitions,
//! and finished into a [`StatsSummary`]. Memory is bounded whatever the number
//! of rows: the moments are a handful of numbers, the distinct count, the
//! quantiles and the categories are sketches of fixed size.
//!
//! ```
//! use arrow::array::Float64Array;
//! use arrow::datatypes::DataType;
//! use quiver_quality::FeatureStats;
//!
//! let mut stats = FeatureStats::new(&DataType::Float64)?;
//! stats.observe(&Float64Array::from(vec![Some(1.0), None, Some(3.0)]))?;
//! let summary = stats.finish();
//! assert_eq!((summary.count, summary.nulls), (3, 1));
//! assert_eq!(summary.mean, Some(2.0));
//! # Ok::<(), quiver_quality::StatsError>(())
//! ```

mod boolean;
mod categories;
mod distinct;
mod error;
mod histogram;
mod input;
mod kind;
mod moments;
mod numeric;
mod quantiles;
mod summary;
mod text;

use arrow::array::Array;
use arrow::datatypes::DataType;

pub use self::categories::{CATEGORY_MAP_SIZE, TOP_K};
pub use self::distinct::{HLL_LG_K, HLL_RELATIVE_STANDARD_ERROR};
pub use self::error::StatsError;
pub use self::histogram::HISTOGRAM_BINS;
pub use self::kind::ValueKind;
pub use self::quantiles::{KLL_K, QuantileSketch};
pub use self::summary::{Categories, CategoryCount, Histogram, Quantiles, StatsSummary};

use self::boolean::BooleanStats;
use self::numeric::NumericStats;
use self::text::TextStats;

/// The accumulator of one feature's statistics.
///
/// `observe` and `merge` are the only ways in; `finish` reads the state out
/// without consuming it, so a long-running job can publish a summary and keep
/// accumulating.
#[derive(Debug, Clone)]
pub struct FeatureStats {
    kind: ValueKind,
    count: u64,
    nulls: u64,
    values: Values,
}

/// The per-kind state; one variant per [`ValueKind`], so an accumulator can
/// never hold, say, moments and categories of a string at once.
#[derive(Debug, Clone)]
enum Values {
    Numeric(Box<NumericStats>),
    Boolean(BooleanStats),
    String(Box<TextStats>),
    List,
}

impl FeatureStats {
    /// An empty accumulator for values of `data_type` (see [`ValueKind::of`]
    /// for the supported types). Later batches may be of any type of the same
    /// kind.
    pub fn new(data_type: &DataType) -> Result<Self, StatsError> {
        Self::for_kind(ValueKind::of(data_type)?)
    }

    /// An empty accumulator for values of `kind`.
    pub fn for_kind(kind: ValueKind) -> Result<Self, StatsError> {
        let values = match kind {
            ValueKind::Numeric | ValueKind::Timestamp => {
                Values::Numeric(Box::new(NumericStats::new()?))
            }
            ValueKind::Boolean => Values::Boolean(BooleanStats::default()),
            ValueKind::String => Values::String(Box::new(TextStats::new()?)),
            ValueKind::List => Values::List,
        };
        Ok(Self {
            kind,
            count: 0,
            nulls: 0,
            values,
        })
    }

    /// The kind of values this accumulator takes.
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    /// Rows observed so far, nulls included.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Takes in one batch of the feature's values.
    ///
    /// A batch of another kind is refused with [`StatsError::TypeMismatch`]
    /// before anything is counted, so a refused batch leaves the accumulator as
    /// it was.
    pub fn observe(&mut self, array: &dyn Array) -> Result<(), StatsError> {
        let found = ValueKind::of(array.data_type())?;
        if found != self.kind {
            return Err(input::mismatch(array, self.kind));
        }
        match &mut self.values {
            Values::Numeric(stats) => stats.observe(array, self.kind)?,
            Values::Boolean(stats) => stats.observe(array)?,
            Values::String(stats) => stats.observe(array)?,
            Values::List => {}
        }
        self.count += array.len() as u64;
        // Logical nulls: a dictionary key pointing at a null entry is null too.
        self.nulls += array.logical_null_count() as u64;
        Ok(())
    }

    /// Takes in everything `other` observed, as if its batches had been
    /// observed here. Both must be of the same kind.
    pub fn merge(&mut self, other: &FeatureStats) -> Result<(), StatsError> {
        let mismatch = StatsError::KindMismatch {
            ours: self.kind,
            theirs: other.kind,
        };
        if self.kind != other.kind {
            return Err(mismatch);
        }
        match (&mut self.values, &other.values) {
            (Values::Numeric(ours), Values::Numeric(theirs)) => ours.merge(theirs)?,
            (Values::Boolean(ours), Values::Boolean(theirs)) => ours.merge(theirs),
            (Values::String(ours), Values::String(theirs)) => ours.merge(theirs)?,
            (Values::List, Values::List) => {}
            // Same kind always means the same variant (see `for_kind`).
            _ => return Err(mismatch),
        }
        self.count += other.count;
        self.nulls += other.nulls;
        Ok(())
    }

    /// The statistics of everything observed so far.
    pub fn finish(&self) -> StatsSummary {
        let mut summary = StatsSummary {
            kind: self.kind,
            count: self.count,
            nulls: self.nulls,
            non_finite: 0,
            min: None,
            max: None,
            mean: None,
            stddev: None,
            distinct: None,
            quantiles: None,
            histogram: None,
            categories: None,
            sketch: None,
        };
        match &self.values {
            Values::Numeric(stats) => stats.fill(&mut summary),
            Values::Boolean(stats) => stats.fill(&mut summary),
            Values::String(stats) => stats.fill(&mut summary),
            Values::List => {}
        }
        summary
    }
}
