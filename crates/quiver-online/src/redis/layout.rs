//! Where things live in Redis.
//!
//! One hash per (project, entity key): `quiver:<project>:{<hex of the entity key
//! bytes>}`. The braces are a Redis Cluster hash tag, so the whole entity (every
//! view) sits in one slot and a lookup is one command on one node. The field
//! `<view>` holds the view's row as one record (`record.rs`): a read or a write
//! of any number of a view's features touches one field.
//!
//! The legacy layout, written by quiver builds before the record: one field per
//! feature, `<view>:<feature>` holding the encoded value, and `<view>:__ts` and
//! `<view>:__created` the row's event and created times as decimal µs. Reads
//! still find it; the first write of the view's record removes it.

use crate::key::EntityKey;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The hash key of one entity in one project.
pub(crate) fn entity_key(project: &str, key: &EntityKey) -> Vec<u8> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(project.len() + 2 * bytes.len() + 12);
    out.extend_from_slice(b"quiver:");
    out.extend_from_slice(project.as_bytes());
    out.extend_from_slice(b":{");
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0x0f)]);
    }
    out.push(b'}');
    out
}

/// The `SCAN MATCH` pattern of every key of a project (project names are
/// identifiers, so they hold no glob characters).
pub(crate) fn project_pattern(project: &str) -> String {
    format!("quiver:{project}:*")
}

/// The legacy layout's event time field of a view.
pub(crate) fn legacy_ts_field(view: &str) -> String {
    format!("{view}:__ts")
}

/// The legacy layout's field of one feature.
pub(crate) fn legacy_feature_field(view: &str, feature: &str) -> String {
    format!("{view}:{feature}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn key_is_namespaced_and_hash_tagged() {
        let key = EntityKey::single("driver_id", Value::Int64(1001));
        let Ok(key) = key else {
            panic!("key should build");
        };
        let k = String::from_utf8(entity_key("demo", &key)).unwrap_or_default();
        assert!(k.starts_with("quiver:demo:{"), "{k}");
        assert!(k.ends_with('}'));
        assert_eq!(k.matches('{').count(), 1);
        assert!(k[13..k.len() - 1].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
