//! Property tests of the value codec and the entity key encoding.
// Tests panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use quiver_online::{EntityKey, Value, codec};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::Int32),
        any::<i64>().prop_map(Value::Int64),
        any::<f32>().prop_map(Value::Float32),
        any::<f64>().prop_map(Value::Float64),
        ".{0,40}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Value::Bytes),
        any::<i64>().prop_map(Value::Timestamp),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 64, 8, |inner| {
        proptest::collection::vec(inner, 0..8).prop_map(Value::List)
    })
}

/// Equality with floats compared by bits (NaN round-trips as the same NaN).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float32(x), Value::Float32(y)) => x.to_bits() == y.to_bits(),
        (Value::Float64(x), Value::Float64(y)) => x.to_bits() == y.to_bits(),
        (Value::List(xs), Value::List(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        _ => a == b,
    }
}

fn key_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::Int32),
        any::<i64>().prop_map(Value::Int64),
        ".{0,20}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
    ]
}

proptest! {
    // Integration tests have no src/lib.rs beside them for proptest's regression
    // files; failing inputs are printed instead.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_value_round_trips(v in value()) {
        let bytes = codec::encode_to_vec(&v);
        let back = codec::decode(&bytes).unwrap();
        prop_assert!(same(&v, &back), "{v:?} came back as {back:?}");
        prop_assert_eq!(codec::encode_to_vec(&back), bytes);
    }

    #[test]
    fn values_concatenate_without_ambiguity(a in value(), b in value()) {
        // Encodings are self-delimiting: a value never decodes from a prefix of
        // another encoding plus leftovers.
        let mut bytes = codec::encode_to_vec(&a);
        let split = bytes.len();
        codec::encode(&b, &mut bytes);
        prop_assert!(codec::decode(&bytes).is_err());
        prop_assert!(same(&codec::decode(&bytes[..split]).unwrap(), &a));
        prop_assert!(same(&codec::decode(&bytes[split..]).unwrap(), &b));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn entity_keys_ignore_pair_order(
        values in proptest::collection::vec(key_value(), 1..5),
        rotate in 0usize..5,
    ) {
        let pairs: Vec<(String, Value)> = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("k{i}"), v))
            .collect();
        let mut rotated = pairs.clone();
        let n = rotated.len();
        rotated.rotate_left(rotate % n);
        let a = EntityKey::new(pairs).unwrap();
        let b = EntityKey::new(rotated).unwrap();
        prop_assert_eq!(a.as_bytes(), b.as_bytes());
        prop_assert_eq!(a, b);
    }
}
