//! `${VAR}` and `${VAR:-default}` expansion from the environment.

/// Expands `${VAR}` and `${VAR:-default}`; `$$` stands for a literal `$`.
/// `lookup` is injected so tests need not touch the process environment.
pub fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = body_and_tail
                .find('}')
                .ok_or_else(|| format!("unterminated `${{` in `{text}`"))?;
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
                (_, Some(default)) => out.push_str(default),
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
