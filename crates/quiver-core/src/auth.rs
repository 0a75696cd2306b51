//! API tokens (`auth:` in quiver.yaml): only their SHA-256 is written down, each
//! with the scopes it grants. A client sends the token itself as
//! `Authorization: Bearer <token>`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use marked_yaml::Spanned;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::DefinitionError;
use crate::yaml;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `POST /get-online-features`.
    ReadOnline,
    /// `POST /get-historical-features`.
    ReadOffline,
    /// `POST /push`, `POST /materialize`, `POST /materialize-incremental`.
    Write,
    /// Registry changes.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::ReadOnline,
        Scope::ReadOffline,
        Scope::Write,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadOnline => "read-online",
            Scope::ReadOffline => "read-offline",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                format!("unknown scope `{s}` (expected read-online, read-offline, write or admin)")
            })
    }
}

/// One configured token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Who holds it (logged, unlike the token).
    pub name: String,
    pub sha256: [u8; 32],
    pub scopes: BTreeSet<Scope>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    pub tokens: Vec<ApiToken>,
}

impl AuthConfig {
    /// The token whose hash is the hash of `presented`, if any. Every
    /// configured hash is compared in full, whatever matches.
    pub fn find(&self, presented: &str) -> Option<&ApiToken> {
        let digest = token_sha256(presented);
        let mut found = None;
        for token in &self.tokens {
            let same = token
                .sha256
                .iter()
                .zip(digest.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
            if same && found.is_none() {
                found = Some(token);
            }
        }
        found
    }
}

/// SHA-256 of a token, as configured.
pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    /// Default true: an `auth:` section turns it on.
    enabled: Option<bool>,
    #[serde(default)]
    tokens: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: Spanned<String>,
    sha256: Spanned<String>,
    scopes: Vec<Spanned<String>>,
}

/// The typed section (`None` when auth is off), or errors naming file, line and field.
pub(crate) fn parse(
    file: &Path,
    raw: &RawAuth,
    errors: &mut Vec<DefinitionError>,
) -> Option<AuthConfig> {
    if raw.enabled == Some(false) {
        return None;
    }
    let mut config = AuthConfig::default();
    for (i, token) in raw.tokens.iter().enumerate() {
        let field = |name: &str| format!("auth.tokens[{i}].{name}");
        let at = |span: &marked_yaml::Span| yaml::location(file, span);
        if config.tokens.iter().any(|t| t.name == *token.name) {
            errors.push(DefinitionError::new(
                at(token.name.span()),
                field("name"),
                format!("token name `{}` is used twice", *token.name),
            ));
        }
        let sha256 = hex::decode(token.sha256.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
        if sha256.is_none() {
            errors.push(DefinitionError::new(
                at(token.sha256.span()),
                field("sha256"),
                "expected the token's SHA-256 as 64 hex digits (`quiver token` prints one)",
            ));
        }
        let mut scopes = BTreeSet::new();
        for scope in &token.scopes {
            match scope.parse::<Scope>() {
                Ok(s) => {
                    scopes.insert(s);
                }
                Err(message) => errors.push(DefinitionError::new(
                    at(scope.span()),
                    field("scopes"),
                    message,
                )),
            }
        }
        config.tokens.push(ApiToken {
            name: token.name.to_string(),
            sha256: sha256.unwrap_or_default(),
            scopes,
        });
    }
    Some(config)
}
