//! Feast's value types (the `ValueType` enum of feast/types/Value.proto and
//! Python's `feast.value_type.ValueType`) and the quiver dtypes they become.

use quiver_core::{ScalarType, ValueType};

/// Every Feast value type by number and name. PDF_BYTES and IMAGE_BYTES
/// exist only in Python's enum: protobuf JSON writes them as bare numbers.
const FEAST_TYPES: [(i32, &str); 48] = [
    (0, "INVALID"),
    (1, "BYTES"),
    (2, "STRING"),
    (3, "INT32"),
    (4, "INT64"),
    (5, "DOUBLE"),
    (6, "FLOAT"),
    (7, "BOOL"),
    (8, "UNIX_TIMESTAMP"),
    (11, "BYTES_LIST"),
    (12, "STRING_LIST"),
    (13, "INT32_LIST"),
    (14, "INT64_LIST"),
    (15, "DOUBLE_LIST"),
    (16, "FLOAT_LIST"),
    (17, "BOOL_LIST"),
    (18, "UNIX_TIMESTAMP_LIST"),
    (19, "NULL"),
    (20, "MAP"),
    (21, "MAP_LIST"),
    (22, "BYTES_SET"),
    (23, "STRING_SET"),
    (24, "INT32_SET"),
    (25, "INT64_SET"),
    (26, "DOUBLE_SET"),
    (27, "FLOAT_SET"),
    (28, "BOOL_SET"),
    (29, "UNIX_TIMESTAMP_SET"),
    (30, "PDF_BYTES"),
    (31, "IMAGE_BYTES"),
    (32, "JSON"),
    (33, "JSON_LIST"),
    (34, "STRUCT"),
    (35, "STRUCT_LIST"),
    (36, "UUID"),
    (37, "TIME_UUID"),
    (38, "UUID_LIST"),
    (39, "TIME_UUID_LIST"),
    (40, "UUID_SET"),
    (41, "TIME_UUID_SET"),
    (42, "VALUE_LIST"),
    (43, "VALUE_SET"),
    (44, "DECIMAL"),
    (45, "DECIMAL_LIST"),
    (46, "DECIMAL_SET"),
    (47, "SCALAR_MAP"),
    (48, "ZONED_TIMESTAMP"),
    // Python's name for 0.
    (0, "UNKNOWN"),
];

/// The number of a type name as protobuf JSON writes it.
pub fn code_of(name: &str) -> Option<i32> {
    FEAST_TYPES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(code, _)| *code)
}

/// The name of a type number, for messages.
pub fn name_of(code: i32) -> String {
    FEAST_TYPES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| format!("value type {code}"))
}

/// The quiver dtype holding exactly what a Feast feature of type `code`
/// holds, or why there is none.
pub fn quiver_dtype(code: i32) -> Result<ValueType, String> {
    use ScalarType::*;
    let scalar = |code| match code {
        // PDF and image bytes are plain bytes with a hint for Feast's UI.
        1 | 30 | 31 => Some(Bytes),
        2 => Some(String),
        3 => Some(Int32),
        4 => Some(Int64),
        5 => Some(Float64),
        6 => Some(Float32),
        7 => Some(Bool),
        8 => Some(Timestamp),
        _ => None,
    };
    if let Some(t) = scalar(code) {
        return Ok(ValueType::Scalar(t));
    }
    if (11..=18).contains(&code) {
        // The list types follow the scalars' order, ten numbers on.
        if let Some(t) = scalar(code - 10) {
            return Ok(ValueType::List(t));
        }
    }
    let name = name_of(code);
    Err(match code {
        0 => "the registry gives it no type".to_string(),
        22..=29 | 40 | 41 | 43 | 46 => {
            format!("Feast type {name} has no quiver dtype (quiver has lists, not sets)")
        }
        48 => format!(
            "Feast type {name} has no quiver dtype (quiver's timestamp keeps the instant in UTC, not the zone)"
        ),
        _ => format!("Feast type {name} has no quiver dtype"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dtype(name: &str) -> Result<String, String> {
        quiver_dtype(code_of(name).unwrap()).map(|t| t.to_string())
    }

    #[test]
    fn maps_every_scalar_and_list_exactly() {
        let expected = [
            ("BYTES", "bytes"),
            ("STRING", "string"),
            ("INT32", "int32"),
            ("INT64", "int64"),
            ("DOUBLE", "float64"),
            ("FLOAT", "float32"),
            ("BOOL", "bool"),
            ("UNIX_TIMESTAMP", "timestamp"),
            ("BYTES_LIST", "list<bytes>"),
            ("STRING_LIST", "list<string>"),
            ("INT32_LIST", "list<int32>"),
            ("INT64_LIST", "list<int64>"),
            ("DOUBLE_LIST", "list<float64>"),
            ("FLOAT_LIST", "list<float32>"),
            ("BOOL_LIST", "list<bool>"),
            ("UNIX_TIMESTAMP_LIST", "list<timestamp>"),
            ("PDF_BYTES", "bytes"),
            ("IMAGE_BYTES", "bytes"),
        ];
        for (feast, quiver) in expected {
            assert_eq!(dtype(feast).unwrap(), quiver, "{feast}");
        }
    }

    #[test]
    fn refuses_what_quiver_cannot_hold() {
        for name in [
            "INVALID",
            "NULL",
            "MAP",
            "MAP_LIST",
            "JSON",
            "JSON_LIST",
            "STRUCT",
            "STRUCT_LIST",
            "UUID",
            "TIME_UUID",
            "UUID_LIST",
            "VALUE_LIST",
            "DECIMAL",
            "DECIMAL_LIST",
            "SCALAR_MAP",
            "ZONED_TIMESTAMP",
            "STRING_SET",
            "INT64_SET",
            "UUID_SET",
        ] {
            assert!(dtype(name).is_err(), "{name}");
        }
        assert!(dtype("STRING_SET").unwrap_err().contains("not sets"));
        assert!(dtype("ZONED_TIMESTAMP").unwrap_err().contains("zone"));
        assert_eq!(
            dtype("MAP").unwrap_err(),
            "Feast type MAP has no quiver dtype"
        );
        assert_eq!(name_of(99), "value type 99");
        assert_eq!(code_of("UNKNOWN"), Some(0));
    }
}
