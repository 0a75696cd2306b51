//! `${VAR}` and `${VAR:-default}` expansion from the environment.

/// How deep `${A:-${B:-...}}` may nest: enough for any real fallback chain,
/// and a bound on the recursion for hostile input.
const MAX_NESTING: usize = 8;

/// Expands `${VAR}` and `${VAR:-default}`; a default may itself hold
/// references (`${A:-${B}}`); `$$` stands for a literal `$`.
/// `lookup` is injected so tests need not touch the process environment.
pub fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    expand_nested(text, text, &lookup, 0)
}

/// Expands `part` of `whole` (the value as written, for messages).
fn expand_nested(
    part: &str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_NESTING {
        return Err(format!(
            "`{whole}` nests `${{...}}` more than {MAX_NESTING} deep"
        ));
    }
    let mut out = String::with_capacity(part.len());
    let mut rest = part;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = closing_brace(body_and_tail)
                .ok_or_else(|| format!("unterminated `${{` in `{whole}`"))?;
            let body = &body_and_tail[..end];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if !is_env_name(name) {
                return Err(format!(
                    "`${{{body}}}` is not a valid environment variable reference"
                ));
            }
            match (lookup(name), default) {
                (Some(value), None) => out.push_str(&value),
                (Some(value), Some(_)) if !value.is_empty() => out.push_str(&value),
                (_, Some(default)) => {
                    out.push_str(&expand_nested(default, whole, lookup, depth + 1)?)
                }
                (None, None) => {
                    return Err(format!(
                        "environment variable `{name}` is not set (write `${{{name}:-default}}` for a fallback)"
                    ));
                }
            }
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` that closes a reference whose body starts `text`,
/// passing over references nested in its default and `$$` escapes.
fn closing_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut open = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'$', Some(b'$')) => i += 1,
            (b'$', Some(b'{')) => {
                open += 1;
                i += 1;
            }
            (b'}', _) if open == 0 => return Some(i),
            (b'}', _) => open -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Expands against the process environment.
pub fn expand(text: &str) -> Result<String, String> {
    expand_with(text, |name| std::env::var(name).ok())
}

/// Checks references without resolving them: for values kept unexpanded (secrets).
pub fn check_references(text: &str) -> Result<(), String> {
    expand_with(text, |_| Some(String::new())).map(|_| ())
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_unset_default_and_escape() {
        assert_eq!(
            expand_with("pg://${HOST}/x", env).unwrap(),
            "pg://db.internal/x"
        );
        assert_eq!(
            expand_with("${NOPE:-127.0.0.1}:9092", env).unwrap(),
            "127.0.0.1:9092"
        );
        assert_eq!(expand_with("${EMPTY:-fallback}", env).unwrap(), "fallback");
        assert_eq!(expand_with("${EMPTY}", env).unwrap(), "");
        assert_eq!(
            expand_with("cost $$5 and $x", env).unwrap(),
            "cost $5 and $x"
        );
    }

    #[test]
    fn defaults_may_hold_references() {
        assert_eq!(expand_with("${A:-${HOST}}", env).unwrap(), "db.internal");
        assert_eq!(
            expand_with("x${A:-${B:-${EMPTY:-deep}}}y", env).unwrap(),
            "xdeepy"
        );
        assert_eq!(expand_with("${HOST:-${NOPE}}", env).unwrap(), "db.internal");
        assert_eq!(expand_with("${A:-$${B}}-${A:-$$}", env).unwrap(), "${B}-$");
        assert_eq!(expand_with("${A:-{x}}", env).unwrap(), "{x}");
        assert!(
            expand_with("${A:-${NOPE}}", env)
                .unwrap_err()
                .contains("`NOPE` is not set")
        );
        assert!(
            expand_with("${A:-${B}", env)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(check_references("${A:-${1BAD}}").is_err());
        let deep = format!("{}x{}", "${A:-".repeat(20), "}".repeat(20));
        assert!(
            expand_with(&deep, env)
                .unwrap_err()
                .contains("more than 8 deep")
        );
    }

    #[test]
    fn reports_unset_and_malformed() {
        assert!(
            expand_with("${NOPE}", env)
                .unwrap_err()
                .contains("`NOPE` is not set")
        );
        assert!(
            expand_with("${HOST", env)
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            expand_with("${1BAD}", env)
                .unwrap_err()
                .contains("not a valid")
        );
        assert!(check_references("${UNSET_BUT_FINE}").is_ok());
    }
}
