//! `quiver token`: a new random API token. Only its SHA-256 goes in the config.

use std::io::Read;

use quiver_core::auth::token_sha256;
use serde::Serialize;

use crate::args::{GlobalArgs, TokenArgs};
use crate::error::{CliError, CliResult};
use crate::output::print_json;

#[derive(Serialize)]
struct NewToken {
    name: String,
    token: String,
    sha256: String,
    scopes: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: &TokenArgs) -> CliResult {
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(|e| CliError::Internal(format!("cannot read random bytes: {e}")))?;
    let token = format!("qv_{}", hex::encode(secret));
    let new = NewToken {
        name: args.name.clone(),
        sha256: hex::encode(token_sha256(&token)),
        scopes: args.scopes.iter().map(ToString::to_string).collect(),
        token,
    };
    if global.json {
        return print_json(&new);
    }
    println!("token (shown once; give it to {}): {}", new.name, new.token);
    println!("add to quiver.yaml under `auth: tokens:`");
    println!(
        "  - {{ name: {}, sha256: \"{}\", scopes: [{}] }}",
        new.name,
        new.sha256,
        new.scopes.join(", ")
    );
    Ok(())
}
