//! Writes definitions as YAML in the example repo's style: objects in block
//! style, short lists and maps of plain values in flow style
//! (`join_keys: [{ name: driver_id, dtype: int64 }]`). A string that could
//! be read as anything else is written as a JSON string, which YAML reads
//! alike.

use serde_json::{Map, Value};

/// Lines longer than this are written in block style.
const MAX_LINE: usize = 100;

/// One definitions file: `header` as comments, then `section:` with `objects`.
pub fn definitions_file(header: &[String], section: &str, objects: &[Value]) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str(&format!("# {line}\n"));
    }
    if objects.is_empty() {
        out.push_str(&format!("{section}: []\n"));
        return out;
    }
    out.push_str(&format!("{section}:\n"));
    for object in objects {
        match object {
            Value::Object(map) => item(&mut out, 2, map),
            other => out.push_str(&format!("  - {}\n", flow(other).unwrap_or_default())),
        }
    }
    out
}

/// One object of a section, always in block style, `name` and `description` first.
fn item(out: &mut String, indent: usize, map: &Map<String, Value>) {
    let mut ordered = Map::new();
    for key in ["name", "description"] {
        if let Some(value) = map.get(key) {
            ordered.insert(key.to_string(), value.clone());
        }
    }
    for (key, value) in map {
        if !ordered.contains_key(key) {
            ordered.insert(key.clone(), value.clone());
        }
    }
    let mut body = String::new();
    block_map(&mut body, indent + 2, &ordered);
    // The first key goes on the dash's line.
    out.push_str(&" ".repeat(indent));
    out.push_str("- ");
    out.push_str(body.trim_start_matches(' '));
}

fn block_map(out: &mut String, indent: usize, map: &Map<String, Value>) {
    let pad = " ".repeat(indent);
    for (key, value) in map {
        let key = key_text(key);
        match flow(value) {
            Some(text) if indent + key.len() + 2 + text.len() <= MAX_LINE => {
                out.push_str(&format!("{pad}{key}: {text}\n"));
            }
            _ => match value {
                Value::Object(inner) => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    block_map(out, indent + 2, inner);
                }
                Value::Array(items) => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    block_seq(out, indent + 2, items);
                }
                // A long scalar stays on its key's line.
                scalar => out.push_str(&format!("{pad}{key}: {}\n", scalar_text(scalar))),
            },
        }
    }
}

fn block_seq(out: &mut String, indent: usize, items: &[Value]) {
    let pad = " ".repeat(indent);
    for value in items {
        match (flow(value), value) {
            (Some(text), _) if indent + 2 + text.len() <= MAX_LINE => {
                out.push_str(&format!("{pad}- {text}\n"));
            }
            (_, Value::Object(map)) => {
                let mut body = String::new();
                block_map(&mut body, indent + 2, map);
                out.push_str(&format!("{pad}- {}", body.trim_start_matches(' ')));
            }
            (_, Value::Array(inner)) => {
                out.push_str(&format!("{pad}-\n"));
                block_seq(out, indent + 2, inner);
            }
            (_, scalar) => out.push_str(&format!("{pad}- {}\n", scalar_text(scalar))),
        }
    }
}

/// The flow-style text of a value: `[a, b]`, `{ k: v }`, or a scalar.
fn flow(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(flow).collect();
            Some(format!("[{}]", parts?.join(", ")))
        }
        Value::Object(map) if map.is_empty() => Some("{}".to_string()),
        Value::Object(map) => {
            let parts: Option<Vec<String>> = map
                .iter()
                .map(|(k, v)| Some(format!("{}: {}", key_text(k), flow(v)?)))
                .collect();
            Some(format!("{{ {} }}", parts?.join(", ")))
        }
        scalar => Some(scalar_text(scalar)),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => string_text(text),
        other => other.to_string(),
    }
}

/// Plain when YAML reads it back as this very string in block and flow
/// context alike; quoted otherwise.
fn string_text(text: &str) -> String {
    let plain = (text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '/')
        || starts_a_word(text))
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains("  ")
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _./<>:+-".contains(c))
        && !is_keyword(text);
    if plain {
        text.to_string()
    } else {
        Value::String(text.to_string()).to_string()
    }
}

/// A digit-led text YAML reads as a string: `1day`, `2h 30m`, never a
/// number (`1e5`, `0x1f`, `1_000`, `1:20`).
fn starts_a_word(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
        && !text.contains([':', '_'])
        && text.split(' ').all(|word| {
            word.trim_start_matches(|c: char| c.is_ascii_digit())
                .starts_with(|c: char| c.is_ascii_alphabetic() && !"eExXoObB".contains(c))
        })
}

/// Keys are plain only when they are simple names.
fn key_text(key: &str) -> String {
    let plain = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !is_keyword(key);
    if plain {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

/// Words YAML 1.1 or 1.2 read as booleans or null.
fn is_keyword(text: &str) -> bool {
    const WORDS: [&str; 11] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_the_example_repos_style() {
        let entity = json!({
            "name": "driver",
            "join_keys": [{ "name": "driver_id", "dtype": "int64" }],
            "description": "A driver on the platform",
            "tags": { "team": "mobility", "feast.io/role:x": "no" }
        });
        let text = definitions_file(&["Imported".to_string()], "entities", &[entity]);
        assert_eq!(
            text,
            "# Imported\nentities:\n  - name: driver\n    description: A driver on the platform\n    join_keys: [{ name: driver_id, dtype: int64 }]\n    tags: { team: mobility, \"feast.io/role:x\": \"no\" }\n"
        );
        assert_eq!(
            definitions_file(&[], "feature_services", &[]),
            "feature_services: []\n"
        );
    }

    #[test]
    fn quotes_what_would_read_as_something_else() {
        for (text, written) in [
            ("int64", "int64"),
            ("list<float32>", "list<float32>"),
            ("view:feature", "view:feature"),
            ("/srv/x.parquet", "/srv/x.parquet"),
            ("../data/x.parquet", "\"../data/x.parquet\""),
            ("true", "\"true\""),
            ("No", "\"No\""),
            ("123", "\"123\""),
            ("1day 12h", "1day 12h"),
            ("1e5", "\"1e5\""),
            ("0x1f", "\"0x1f\""),
            ("1_000", "\"1_000\""),
            ("1 2", "\"1 2\""),
            ("", "\"\""),
            ("a: b", "\"a: b\""),
            ("a # b", "\"a # b\""),
            ("${URL:-postgres://h/db}", "\"${URL:-postgres://h/db}\""),
            ("two\nlines", "\"two\\nlines\""),
            ("SELECT * FROM t", "\"SELECT * FROM t\""),
            ("a, b", "\"a, b\""),
        ] {
            assert_eq!(string_text(text), written, "{text}");
        }
    }

    #[test]
    fn long_lists_go_to_block_style() {
        let features: Vec<Value> = (0..8)
            .map(|i| json!({ "name": format!("feature_number_{i}"), "dtype": "float64" }))
            .collect();
        let view = json!({ "name": "v", "features": features });
        let text = definitions_file(&[], "feature_views", &[view]);
        assert!(
            text.contains("    features:\n      - { name: feature_number_0, dtype: float64 }\n"),
            "{text}"
        );
    }
}
