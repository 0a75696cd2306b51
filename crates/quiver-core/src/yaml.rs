//! YAML reading with positions: every error carries file, line and field.

use std::path::Path;

use marked_yaml::{LoadError, LoaderOptions, Marker, Node, Span};
use serde::de::DeserializeOwned;

use crate::error::{DefinitionError, Location};

/// The location of a span's start in `file` (line 1 when the span has none).
pub fn location(file: &Path, span: &Span) -> Location {
    match span.start() {
        Some(m) => Location::new(file, m.line(), m.column()),
        None => Location::file_start(file),
    }
}

/// Parses `text` and deserializes it, mapping parser and type errors to
/// [`DefinitionError`]s that point at the offending line and field.
pub fn deserialize<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, DefinitionError> {
    let options = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .toplevel_mapping();
    let node =
        marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| load_error(file, e))?;
    marked_yaml::from_node(&node).map_err(|e| {
        // An unknown field is reported at its mapping; point at the key itself.
        let mark = match &*e {
            marked_yaml::Error::UnknownFieldError(key, _, _) => e
                .start_mark()
                .and_then(|m| key_in_mapping_at(&node, &m, key))
                .or(e.start_mark()),
            _ => e.start_mark(),
        };
        let location = mark
            .map(|m| Location::new(file, m.line(), m.column()))
            .unwrap_or_else(|| Location::file_start(file));
        let field = e.path().unwrap_or_default().to_string();
        DefinitionError::new(location, field, humanize(&e.to_string(), e.path()))
    })
}

/// The position of `key` in the mapping that starts at `at`, searching the whole tree.
fn key_in_mapping_at(node: &Node, at: &Marker, key: &str) -> Option<Marker> {
    match node {
        Node::Mapping(mapping) => {
            if mapping.span().start() == Some(at)
                && let Some((k, _)) = mapping.iter().find(|(k, _)| k.as_str() == key)
            {
                return k.span().start().copied();
            }
            mapping
                .values()
                .find_map(|child| key_in_mapping_at(child, at, key))
        }
        Node::Sequence(items) => items
            .iter()
            .find_map(|child| key_in_mapping_at(child, at, key)),
        Node::Scalar(_) => None,
    }
}

/// Whether a file holds nothing but comments and blank lines.
pub fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---"
    })
}

fn humanize(message: &str, path: Option<&str>) -> String {
    // FromNodeError's Display repeats the path; the field is reported separately.
    let message = match path {
        Some(p) => message.strip_prefix(&format!("{p}: ")).unwrap_or(message),
        None => message,
    };
    message.replacen("Unknown field", "unknown field", 1)
}

fn load_error(file: &Path, error: LoadError) -> DefinitionError {
    let at = |m: &marked_yaml::Marker| Location::new(file, m.line(), m.column());
    match &error {
        LoadError::TopLevelMustBeMapping(m) => {
            DefinitionError::new(at(m), "", "the top level must be a mapping of sections")
        }
        LoadError::DuplicateKey(inner) => {
            let location = inner
                .key
                .span()
                .start()
                .map(at)
                .unwrap_or_else(|| Location::file_start(file));
            let first = inner.prev_key.span().start().map(|m| m.line()).unwrap_or(0);
            DefinitionError::new(
                location,
                inner.key.as_str(),
                format!(
                    "duplicate key `{}` (first written on line {first})",
                    inner.key.as_str()
                ),
            )
        }
        LoadError::ScanError(m, _)
        | LoadError::UnexpectedAnchor(m)
        | LoadError::MappingKeyMustBeScalar(m)
        | LoadError::UnexpectedTag(m)
        | LoadError::TopLevelMustBeSequence(m) => {
            // The library's message starts with its own marker; keep only the reason.
            let text = error.to_string();
            let reason = text.split_once(": ").map(|(_, r)| r).unwrap_or(&text);
            DefinitionError::new(at(m), "", format!("invalid YAML: {reason}"))
        }
    }
}
