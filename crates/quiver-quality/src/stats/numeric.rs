//! Statistics of numeric and timestamp features: moments, distinct count and
//! the quantile sketch (from which the percentiles and histogram come).

use arrow::array::Array;
use arrow::datatypes::{
    DataType, Float32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datasketches::hash::value::canonical_float;

use super::distinct::DistinctCounter;
use super::histogram::{self, HISTOGRAM_BINS};
use super::input::{mismatch, primitive};
use super::moments::Moments;
use super::quantiles::QuantileSketch;
use super::summary::{Quantiles, StatsSummary};
use super::{StatsError, ValueKind};

#[derive(Debug, Clone)]
pub(crate) struct NumericStats {
    moments: Moments,
    distinct: DistinctCounter,
    sketch: QuantileSketch,
    non_finite: u64,
}

impl NumericStats {
    pub(crate) fn new() -> Result<Self, StatsError> {
        Ok(Self {
            moments: Moments::default(),
            distinct: DistinctCounter::new()?,
            sketch: QuantileSketch::new()?,
            non_finite: 0,
        })
    }

    /// Feeds the non-null values of `array`, which must be of a numeric or
    /// timestamp type (`kind` is only for the error message).
    pub(crate) fn observe(&mut self, array: &dyn Array, kind: ValueKind) -> Result<(), StatsError> {
        match array.data_type() {
            DataType::Int32 => self.push_ints(
                primitive::<Int32Type>(array, kind)?
                    .iter()
                    .flatten()
                    .map(i64::from),
            ),
            DataType::Int64 => {
                self.push_ints(primitive::<Int64Type>(array, kind)?.iter().flatten())
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => self.push_ints(
                primitive::<TimestampMicrosecondType>(array, kind)?
                    .iter()
                    .flatten(),
            ),
            DataType::Float32 => self.push_floats(
                primitive::<Float32Type>(array, kind)?
                    .iter()
                    .flatten()
                    .map(f64::from),
            ),
            DataType::Float64 => {
                self.push_floats(primitive::<Float64Type>(array, kind)?.iter().flatten())
            }
            _ => return Err(mismatch(array, kind)),
        }
        Ok(())
    }

    /// Integers are hashed as `i64`, so an `Int32` batch and an `Int64` batch
    /// of one feature count a shared value once.
    fn push_ints(&mut self, values: impl Iterator<Item = i64>) {
        let mut numbers = Vec::with_capacity(values.size_hint().0);
        for value in values {
            let x = value as f64;
            self.sketch.update(x);
            self.distinct.insert(value);
            numbers.push(x);
        }
        self.moments.push_all(&numbers);
    }

    /// Floats are hashed canonically (`-0.0` and `0.0` are one value, `f32`
    /// and `f64` of the same number are one value); non-finite ones are only
    /// counted.
    fn push_floats(&mut self, values: impl Iterator<Item = f64>) {
        let mut numbers = Vec::with_capacity(values.size_hint().0);
        for value in values {
            if !value.is_finite() {
                self.non_finite += 1;
                continue;
            }
            self.sketch.update(value);
            self.distinct.insert(canonical_float::from_f64(value));
            numbers.push(value);
        }
        self.moments.push_all(&numbers);
    }

    pub(crate) fn merge(&mut self, other: &Self) -> Result<(), StatsError> {
        self.moments.merge(&other.moments);
        self.distinct.merge(&other.distinct)?;
        self.sketch.merge(&other.sketch)?;
        self.non_finite += other.non_finite;
        Ok(())
    }

    pub(crate) fn fill(&self, summary: &mut StatsSummary) {
        summary.non_finite = self.non_finite;
        summary.min = self.moments.min();
        summary.max = self.moments.max();
        summary.mean = self.moments.mean();
        summary.stddev = self.moments.stddev();
        summary.distinct = Some(self.distinct.estimate());
        summary.quantiles = self
            .sketch
            .quantiles(&Quantiles::RANKS)
            .as_deref()
            .and_then(Quantiles::from_values);
        summary.histogram = histogram::from_sketch(&self.sketch, HISTOGRAM_BINS);
        summary.sketch = Some(self.sketch.clone());
    }
}
