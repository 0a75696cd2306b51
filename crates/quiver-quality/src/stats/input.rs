//! Reading values out of Arrow arrays without panicking on a bad cast.
//!
//! Arrow's `as_*` helpers panic when the array is not of the asked-for type;
//! input is the caller's, so every cast here is checked and a mismatch is a
//! [`StatsError::TypeMismatch`].

use arrow::array::{
    Array, AsArray, LargeStringArray, PrimitiveArray, StringArray, StringViewArray,
};
use arrow::datatypes::{ArrowPrimitiveType, DataType};

use super::{StatsError, ValueKind};

/// `array` as the concrete primitive array type `T`.
pub(crate) fn primitive<T: ArrowPrimitiveType>(
    array: &dyn Array,
    expected: ValueKind,
) -> Result<&PrimitiveArray<T>, StatsError> {
    array
        .as_primitive_opt::<T>()
        .ok_or_else(|| mismatch(array, expected))
}

pub(crate) fn mismatch(array: &dyn Array, expected: ValueKind) -> StatsError {
    StatsError::TypeMismatch {
        expected,
        found: array.data_type().clone(),
    }
}

/// The values of a string array of any of Arrow's three layouts.
pub(crate) enum Strings<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
}

impl<'a> Strings<'a> {
    /// `array` as strings, if it is `Utf8`, `LargeUtf8` or `Utf8View`.
    pub(crate) fn of(array: &'a dyn Array) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => array.as_string_opt::<i32>().map(Self::Utf8),
            DataType::LargeUtf8 => array.as_string_opt::<i64>().map(Self::LargeUtf8),
            DataType::Utf8View => array.as_string_view_opt().map(Self::Utf8View),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Utf8(a) => a.len(),
            Self::LargeUtf8(a) => a.len(),
            Self::Utf8View(a) => a.len(),
        }
    }

    /// The string at `index`; `None` when it is null or out of bounds.
    pub(crate) fn get(&self, index: usize) -> Option<&'a str> {
        if index >= self.len() {
            return None;
        }
        match self {
            Self::Utf8(a) => a.is_valid(index).then(|| a.value(index)),
            Self::LargeUtf8(a) => a.is_valid(index).then(|| a.value(index)),
            Self::Utf8View(a) => a.is_valid(index).then(|| a.value(index)),
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;
    use arrow::datatypes::Int32Type;

    use super::*;

    #[test]
    fn a_wrong_cast_is_an_error_not_a_panic() {
        let ints = Int64Array::from(vec![1, 2]);
        let err = primitive::<Int32Type>(&ints, ValueKind::Numeric).expect_err("not Int32");
        assert!(matches!(err, StatsError::TypeMismatch { .. }));
        assert!(Strings::of(&ints).is_none());
    }

    #[test]
    fn reads_every_string_layout() {
        let utf8 = StringArray::from(vec![Some("a"), None]);
        let large = LargeStringArray::from(vec![Some("a"), None]);
        let view = StringViewArray::from(vec![Some("a"), None]);
        for array in [&utf8 as &dyn Array, &large, &view] {
            let strings = Strings::of(array).expect("a string layout");
            assert_eq!(strings.len(), 2);
            assert_eq!(strings.get(0), Some("a"));
            assert_eq!(strings.get(1), None);
            assert_eq!(strings.get(2), None);
        }
    }
}
