//! Whether a column's stored type can hold a declared quiver type without loss.

use arrow::datatypes::DataType;
use quiver_core::{ScalarType, ValueType};

/// Arrow types a declared type accepts: the exact type or a lossless widening.
pub fn arrow_type_fits(declared: ValueType, found: &DataType) -> bool {
    match (declared, found) {
        (ValueType::Scalar(s), found) => arrow_scalar_fits(s, found),
        (
            ValueType::List(s),
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::ListView(f)
            | DataType::FixedSizeList(f, _),
        ) => arrow_scalar_fits(s, f.data_type()),
        _ => false,
    }
}

fn arrow_scalar_fits(declared: ScalarType, found: &DataType) -> bool {
    use DataType as D;
    match declared {
        ScalarType::Bool => matches!(found, D::Boolean),
        ScalarType::Int32 => matches!(found, D::Int8 | D::Int16 | D::Int32 | D::UInt8 | D::UInt16),
        ScalarType::Int64 => {
            matches!(
                found,
                D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32
            )
        }
        ScalarType::Float32 => matches!(found, D::Float16 | D::Float32),
        ScalarType::Float64 => matches!(found, D::Float16 | D::Float32 | D::Float64),
        ScalarType::String => matches!(found, D::Utf8 | D::LargeUtf8 | D::Utf8View),
        ScalarType::Bytes => matches!(
            found,
            D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_)
        ),
        ScalarType::Timestamp => matches!(found, D::Timestamp(_, _) | D::Date32 | D::Date64),
    }
}

/// Postgres types (as sqlx names them, e.g. `INT8`, `TIMESTAMPTZ`, `FLOAT4[]`)
/// a declared type accepts.
pub fn postgres_type_fits(declared: ValueType, found: &str) -> bool {
    let found = found.to_ascii_uppercase();
    match declared {
        ValueType::Scalar(s) => postgres_scalar_fits(s, &found),
        ValueType::List(s) => found
            .strip_suffix("[]")
            .is_some_and(|inner| postgres_scalar_fits(s, inner)),
    }
}

fn postgres_scalar_fits(declared: ScalarType, found: &str) -> bool {
    match declared {
        ScalarType::Bool => found == "BOOL",
        ScalarType::Int32 => matches!(found, "INT2" | "INT4"),
        ScalarType::Int64 => matches!(found, "INT2" | "INT4" | "INT8"),
        ScalarType::Float32 => found == "FLOAT4",
        ScalarType::Float64 => matches!(found, "FLOAT4" | "FLOAT8"),
        ScalarType::String => matches!(
            found,
            "TEXT" | "VARCHAR" | "BPCHAR" | "CHAR" | "NAME" | "CITEXT"
        ),
        ScalarType::Bytes => found == "BYTEA",
        ScalarType::Timestamp => matches!(found, "TIMESTAMPTZ" | "TIMESTAMP" | "DATE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::datatypes::{Field, TimeUnit};

    fn t(s: &str) -> ValueType {
        s.parse().unwrap()
    }

    #[test]
    fn arrow_widening_is_allowed_and_narrowing_refused() {
        assert!(arrow_type_fits(t("int64"), &DataType::Int32));
        assert!(!arrow_type_fits(t("int32"), &DataType::Int64));
        assert!(arrow_type_fits(t("float64"), &DataType::Float32));
        assert!(!arrow_type_fits(t("float32"), &DataType::Float64));
        assert!(arrow_type_fits(
            t("timestamp"),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        ));
        assert!(!arrow_type_fits(t("string"), &DataType::Int64));
        let list = DataType::List(Arc::new(Field::new("item", DataType::Int64, true)));
        assert!(arrow_type_fits(t("list<int64>"), &list));
        assert!(!arrow_type_fits(t("int64"), &list));
    }

    #[test]
    fn postgres_types() {
        assert!(postgres_type_fits(t("int64"), "INT8"));
        assert!(postgres_type_fits(t("float32"), "float4"));
        assert!(!postgres_type_fits(t("float32"), "FLOAT8"));
        assert!(!postgres_type_fits(t("float64"), "NUMERIC"));
        assert!(postgres_type_fits(t("list<string>"), "TEXT[]"));
        assert!(postgres_type_fits(t("timestamp"), "TIMESTAMPTZ"));
    }
}
