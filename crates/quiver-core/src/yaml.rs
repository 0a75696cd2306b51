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

/// One document of a YAML stream.
pub struct Document {
    /// The line its text starts on (its `---` where it has one).
    pub line: usize,
    /// The document's own text.
    pub text: String,
}

impl Document {
    /// The document after as many empty lines as precede it in the file, so
    /// that every position the parser reports is the file's own. Made for one
    /// document at a time: all of them at once would take memory growing
    /// with the square of the file's length.
    pub fn padded(&self) -> String {
        let mut padded = "\n".repeat(self.line - 1);
        padded.push_str(&self.text);
        padded
    }
}

/// The most documents a file may hold: far more than anyone writes by hand,
/// and a bound on the parsing work a hostile file can ask for.
pub const MAX_DOCUMENTS: usize = 1000;

/// The documents of `text` that hold something, in order.
///
/// The parser reads one document only, so the stream is split here, where YAML
/// splits it: before a line starting with the marker `---` and after a line
/// starting with `...`. At the start of a line these are markers wherever
/// they appear (YAML forbids them there as content, even in a block scalar).
/// Parts holding only comments, markers and directives (`%YAML`) are left out.
pub fn documents(text: &str) -> Vec<Document> {
    let mut documents = Vec::new();
    let mut part = String::new();
    let mut part_line = 0;
    let mut close = |part: &mut String, part_line: usize| {
        if part.lines().any(is_content) {
            documents.push(Document {
                line: part_line + 1,
                text: part.clone(),
            });
        }
        part.clear();
    };
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if is_marker(line, "---") {
            close(&mut part, part_line);
            part_line = index;
        }
        part.push_str(line);
        if is_marker(line, "...") {
            close(&mut part, part_line);
            part_line = index + 1;
        }
    }
    close(&mut part, part_line);
    documents
}

/// Whether `line` starts with the document marker `marker` (then a space or its end).
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Whether a line holds more than a comment, a document marker or a directive.
fn is_content(line: &str) -> bool {
    let trimmed = line.trim();
    !(trimmed.is_empty()
        || trimmed.starts_with('#')
        || line.starts_with('%')
        || is_marker(line, "---") && trimmed.len() == 3
        || is_marker(line, "...") && trimmed.len() == 3)
}

/// Deserializes a file that must be one document (`quiver.yaml`): a second
/// document is refused at its line rather than ignored.
pub fn deserialize_one<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, DefinitionError> {
    let mut documents = documents(text).into_iter();
    match (documents.next(), documents.next()) {
        (None, _) => deserialize(file, text),
        (Some(only), None) => deserialize(file, &only.padded()),
        (Some(_), Some(second)) => Err(DefinitionError::new(
            Location::new(file, second.line, 1),
            "",
            "a second YAML document: this file must be one document (remove the `---` line or move what follows to a definitions file)",
        )),
    }
}

/// Deserializes every document of a file, in order (none for a file that
/// holds only comments).
pub fn deserialize_all<T: DeserializeOwned>(
    file: &Path,
    text: &str,
) -> Vec<Result<T, DefinitionError>> {
    let documents = documents(text);
    if let Some(extra) = documents.get(MAX_DOCUMENTS) {
        return vec![Err(DefinitionError::new(
            Location::new(file, extra.line, 1),
            "",
            format!(
                "more than {MAX_DOCUMENTS} YAML documents in one file: split it into several files"
            ),
        ))];
    }
    documents
        .iter()
        .map(|document| deserialize(file, &document.padded()))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<(usize, String)> {
        documents(text)
            .into_iter()
            .map(|d| (d.line, d.padded()))
            .collect()
    }

    #[test]
    fn a_file_of_too_many_documents_is_refused_at_the_first_one_past_the_bound() {
        let text = "a: 1\n---\n".repeat(MAX_DOCUMENTS + 1);
        let results: Vec<Result<serde_json::Value, _>> =
            deserialize_all(Path::new("many.yaml"), &text);
        assert_eq!(results.len(), 1);
        let error = results[0].as_ref().unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("many.yaml:{}:1", 2 * MAX_DOCUMENTS)),
            "{error}"
        );
    }

    #[test]
    fn splits_where_yaml_does() {
        assert_eq!(split(""), vec![]);
        assert_eq!(split("# only\n---\n\n...\n---\n"), vec![]);
        assert_eq!(split("a: 1\n"), vec![(1, "a: 1\n".into())]);
        assert_eq!(
            split("%YAML 1.2\n---\na: 1\n--- {b: 2}\n...\n# end\nc: 3"),
            vec![
                (2, "\n---\na: 1\n".into()),
                (4, "\n\n\n--- {b: 2}\n...\n".into()),
                (6, "\n\n\n\n\n# end\nc: 3".into()),
            ]
        );
        // Only at the start of a line, and only followed by a space or the end.
        assert_eq!(split("a: \"x\n ---\"\nb: ---x\n").len(), 1);
        assert_eq!(split("a: 1\r\n---\r\nb: 2\r\n").len(), 2);
    }

    #[test]
    fn positions_stay_the_files_own() {
        #[derive(serde::Deserialize)]
        struct Doc {
            a: marked_yaml::Spanned<String>,
        }
        let docs: Vec<Doc> = deserialize_all(Path::new("f.yaml"), "a: x\n---\n\n  # c\na: y\n")
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("two documents");
        let lines: Vec<usize> = docs
            .iter()
            .map(|d| d.a.span().start().map_or(0, |m| m.line()))
            .collect();
        assert_eq!(lines, vec![1, 5]);

        let error = deserialize_all::<Doc>(Path::new("f.yaml"), "a: x\n---\nb: y\n")
            .into_iter()
            .find_map(Result::err)
            .expect("the second document is wrong");
        assert_eq!(error.location.line, 3, "{error}");

        let error = deserialize_one::<Doc>(Path::new("f.yaml"), "a: x\n...\na: y\n")
            .err()
            .expect("two documents");
        assert_eq!(error.location.line, 3, "{error}");
    }
}
