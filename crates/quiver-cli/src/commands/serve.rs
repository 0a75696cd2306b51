//! `quiver serve`: the HTTP API.

use std::net::SocketAddr;

use quiver_server::Limits;

use crate::args::{GlobalArgs, ServeArgs};
use crate::context;
use crate::error::{CliError, CliResult};

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> CliResult {
    let store = context::store(global).await?;
    let limits = Limits {
        max_entity_rows: args.max_entity_rows,
        max_online_entities: args.max_online_entities,
        max_body_bytes: args.max_body_bytes,
    };
    quiver_server::serve(store, SocketAddr::new(args.host, args.port), limits)
        .await
        .map_err(|e| {
            CliError::Unavailable(format!("cannot serve on {}:{}: {e}", args.host, args.port))
        })
}
