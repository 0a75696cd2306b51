//! Test helpers shared by the quiver crates (a dev-dependency only).
//!
//! Tests run against real services: `scripts/test.sh` brings up PostgreSQL and
//! Redis on loopback and exports their URLs in `QUIVER_TEST_POSTGRES_URL` and
//! `QUIVER_TEST_REDIS_URL`. Tests never skip: when a service is missing the
//! helpers panic with a message that says how to provide it.
//!
//! ```no_run
//! # async fn example() {
//! let db = quiver_testkit::temp_postgres_database("registry").await;
//! // ... connect to `db.url`, run migrations, test ...
//! drop(db); // the database is dropped (WITH (FORCE)) here
//! # }
//! ```

// Test helpers: when the environment cannot be set up the calling test must fail
// loudly with a clear message, so panicking via `expect`/`unwrap` is the intended
// behaviour in this crate (it is never a dependency of production code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

mod proxy;
pub use proxy::{TcpProxy, split_redis_url};

/// Environment variable holding the URL of the test Postgres.
pub const POSTGRES_URL_ENV: &str = "QUIVER_TEST_POSTGRES_URL";
/// Environment variable holding the URL of the test Redis.
pub const REDIS_URL_ENV: &str = "QUIVER_TEST_REDIS_URL";
/// Environment variable holding the test Kafka cluster (`host:port[,...]`).
pub const KAFKA_BOOTSTRAP_ENV: &str = "QUIVER_TEST_KAFKA_BOOTSTRAP";
/// The broker `scripts/test.sh` starts when the variable is unset.
pub const DEFAULT_KAFKA_BOOTSTRAP: &str = "127.0.0.1:9092";
/// The Postgres URL `scripts/test.sh` provides when the variable is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The Redis URL `scripts/test.sh` provides when the variable is unset.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Postgres limits identifiers to 63 bytes (NAMEDATALEN - 1).
const MAX_IDENTIFIER_LEN: usize = 63;
/// How long to wait for a connection before declaring Postgres unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// URL of the real Postgres the test script brought up (env
/// `QUIVER_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
pub fn postgres_url() -> String {
    env_or(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
}

/// URL of the real Redis (env `QUIVER_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
pub fn redis_url() -> String {
    env_or(REDIS_URL_ENV, DEFAULT_REDIS_URL)
}

/// The real Kafka-protocol broker (env `QUIVER_TEST_KAFKA_BOOTSTRAP`, default
/// `127.0.0.1:9092`, where `scripts/test.sh` starts one).
pub fn kafka_bootstrap() -> String {
    env_or(KAFKA_BOOTSTRAP_ENV, DEFAULT_KAFKA_BOOTSTRAP)
}

/// A name no other test (in this or another process) uses: `<prefix>_<pid>_<n>_<random>`,
/// a valid identifier of at most 63 bytes.
pub fn unique_name(prefix: &str) -> String {
    unique_database_name(prefix)
}

fn env_or(var: &str, default: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => value.trim().to_owned(),
        _ => default.to_owned(),
    }
}

/// A fresh, uniquely named Postgres database for one test.
///
/// The database is dropped (`DROP DATABASE ... WITH (FORCE)`, so open pools do
/// not block it) when the guard drops. Dropping is best effort and runs on a
/// separate thread with its own runtime, so it works inside `#[tokio::test]`.
#[derive(Debug)]
pub struct TempDatabase {
    /// URL of the new database: the admin URL with the database replaced.
    pub url: String,
    /// Name of the new database (a plain lowercase identifier).
    pub name: String,
    /// URL used to create the database and, on drop, to drop it.
    admin_url: String,
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropper = std::thread::Builder::new()
            .name(format!("drop-{name}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => return Err(format!("cannot build a runtime: {err}")),
                };
                runtime.block_on(async {
                    let mut conn =
                        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&admin_url))
                            .await
                            .map_err(|_| "timed out connecting".to_owned())?
                            .map_err(|err| format!("cannot connect: {err}"))?;
                    let sql = format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote_ident(&name)
                    );
                    let result = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
                    // Closing is a courtesy; the result that matters is the drop.
                    let _ = conn.close().await;
                    result.map(|_| ()).map_err(|err| err.to_string())
                })
            });
        let outcome = match dropper {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err("the drop thread panicked".to_owned())),
            Err(err) => Err(format!("cannot spawn the drop thread: {err}")),
        };
        if let Err(err) = outcome {
            eprintln!(
                "quiver-testkit: warning: could not drop temporary database {}: {err}",
                self.name
            );
        }
    }
}

/// Creates a fresh database named `<prefix>_<pid>_<counter>_<random>` on the
/// server behind [`postgres_url`] and returns a guard holding its URL.
///
/// Panics (tests never skip) when Postgres is unreachable or the database cannot
/// be created; the message names the URL and says how to provide a server.
pub async fn temp_postgres_database(prefix: &str) -> TempDatabase {
    let admin_url = postgres_url();
    let name = unique_database_name(prefix);
    let url = with_database(&admin_url, &name);

    let mut conn =
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&admin_url)).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(err)) => panic!("{}", unreachable_message(&admin_url, &err.to_string())),
            Err(_) => panic!(
                "{}",
                unreachable_message(
                    &admin_url,
                    &format!("no connection after {CONNECT_TIMEOUT:?}")
                )
            ),
        };
    let sql = format!("CREATE DATABASE {}", quote_ident(&name));
    if let Err(err) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await {
        panic!(
            "quiver-testkit: cannot create database {name} on Postgres at {} ({POSTGRES_URL_ENV}): {err}; \
             the user needs the CREATEDB privilege",
            redact_password(&admin_url)
        );
    }
    let _ = conn.close().await;

    TempDatabase {
        url,
        name,
        admin_url,
    }
}

fn unreachable_message(url: &str, err: &str) -> String {
    format!(
        "quiver-testkit: cannot connect to Postgres at {} ({POSTGRES_URL_ENV}): {err}. \
         Tests need a real Postgres and never skip: run the suite with scripts/test.sh \
         (it starts one), or set {POSTGRES_URL_ENV} to a server where the user may CREATE DATABASE.",
        redact_password(url)
    )
}

/// Quotes a Postgres identifier (doubling embedded quotes).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `<prefix>_<pid>_<counter>_<random>`, lowercase, a valid unquoted identifier of
/// at most 63 bytes (the prefix is sanitized and shortened as needed).
fn unique_database_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("_{}_{}_{:08x}", std::process::id(), counter, random_u32());
    let mut prefix = sanitize_prefix(prefix);
    prefix.truncate(MAX_IDENTIFIER_LEN - suffix.len());
    format!("{prefix}{suffix}")
}

/// Lowercases `prefix`, maps anything outside `[a-z0-9_]` to `_` and makes sure
/// it starts with a letter or underscore.
fn sanitize_prefix(prefix: &str) -> String {
    let mut out: String = prefix
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("quiver_test");
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "t_");
    }
    out
}

/// Randomness without a dependency: `RandomState` is seeded from the OS per
/// process and perturbed per instance; mix in the clock for good measure.
fn random_u32() -> u32 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    let h = hasher.finish();
    (h ^ (h >> 32)) as u32
}

/// Returns `url` with its database replaced by `database`: the path becomes
/// `/<database>` and a `dbname` query parameter (which would override the
/// path) is rewritten too. User info, host, port, other query parameters and a
/// fragment are kept verbatim.
fn with_database(url: &str, database: &str) -> String {
    let scheme_end = url
        .find("://")
        .map(|i| i + 3)
        .unwrap_or_else(|| panic!("quiver-testkit: {POSTGRES_URL_ENV} is not a URL: {url}"));
    let (head, rest) = url.split_at(scheme_end);
    // The authority ends at the first '/', '?' or '#'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after_authority) = rest.split_at(authority_end);
    // Skip the old path (if any) up to the query or fragment.
    let path_end = after_authority
        .find(['?', '#'])
        .unwrap_or(after_authority.len());
    let tail = &after_authority[path_end..];
    let (query, fragment) = match tail.find('#') {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    };
    let query = match query.strip_prefix('?') {
        Some(params) => {
            let params: Vec<String> = params
                .split('&')
                .map(|param| {
                    if param.split('=').next() == Some("dbname") {
                        format!("dbname={database}")
                    } else {
                        param.to_owned()
                    }
                })
                .collect();
            format!("?{}", params.join("&"))
        }
        None => String::new(),
    };
    format!("{head}{authority}/{database}{query}{fragment}")
}

/// Replaces the password in `scheme://user:password@host/...` with `***`.
fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &authority[..colon],
            &url[scheme_end + at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x_1"),
            "postgres://postgres@127.0.0.1:5432/x_1"
        );
        assert_eq!(
            with_database("postgres://u:p%40ss@db.example:6543", "x_1"),
            "postgres://u:p%40ss@db.example:6543/x_1"
        );
        assert_eq!(
            with_database("postgresql://u@h/", "x_1"),
            "postgresql://u@h/x_1"
        );
    }

    #[test]
    fn with_database_keeps_query_and_fragment() {
        assert_eq!(
            with_database(
                "postgres://u@h:5432/test?sslmode=disable&application_name=t#frag",
                "x_1"
            ),
            "postgres://u@h:5432/x_1?sslmode=disable&application_name=t#frag"
        );
        assert_eq!(
            with_database("postgres://u@h?sslmode=disable", "x_1"),
            "postgres://u@h/x_1?sslmode=disable"
        );
        assert_eq!(
            with_database(
                "postgres:///test?host=/var/run/postgresql&dbname=test",
                "x_1"
            ),
            "postgres:///x_1?host=/var/run/postgresql&dbname=x_1"
        );
    }

    #[test]
    fn names_are_valid_unique_identifiers() {
        let a = unique_database_name("Registry-Tests");
        let b = unique_database_name("Registry-Tests");
        assert_ne!(a, b);
        for name in [
            a,
            b,
            unique_database_name(""),
            unique_database_name("1st"),
            unique_database_name(&"long".repeat(40)),
        ] {
            assert!(name.len() <= MAX_IDENTIFIER_LEN, "{name}");
            assert!(
                name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
        }
        assert!(unique_database_name("Registry-Tests").starts_with("registry_tests_"));
        assert!(unique_database_name("1st").starts_with("t_1st_"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://postgres:quiver@postgres:5432/quiver"),
            "postgres://postgres:***@postgres:5432/quiver"
        );
        assert_eq!(
            redact_password("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
    }

    async fn database_exists(admin_url: &str, name: &str) -> bool {
        let mut conn = PgConnection::connect(admin_url)
            .await
            .expect("connect to the admin database");
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .expect("query pg_database");
        conn.close().await.expect("close");
        exists
    }

    #[tokio::test]
    async fn temp_database_is_created_usable_and_dropped() {
        let db = temp_postgres_database("testkit").await;
        assert!(db.name.starts_with("testkit_"), "{}", db.name);
        assert!(database_exists(&postgres_url(), &db.name).await);

        // The URL points at the new database and it is usable.
        let mut conn = PgConnection::connect(&db.url)
            .await
            .expect("connect to the temporary database");
        let current: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&mut conn)
            .await
            .expect("current_database()");
        assert_eq!(current, db.name);
        sqlx::raw_sql("CREATE TABLE t (id bigint PRIMARY KEY); INSERT INTO t VALUES (1), (2)")
            .execute(&mut conn)
            .await
            .expect("create a table");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .expect("count");
        assert_eq!(count, 2);

        // Dropping the guard drops the database even with a connection still open.
        let name = db.name.clone();
        drop(db);
        assert!(!database_exists(&postgres_url(), &name).await);
        assert!(
            conn.ping().await.is_err(),
            "the open connection was terminated"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn temp_databases_are_distinct() {
        let a = temp_postgres_database("testkit_pair").await;
        let b = temp_postgres_database("testkit_pair").await;
        assert_ne!(a.name, b.name);
        assert_ne!(a.url, b.url);
    }

    #[test]
    fn urls_come_from_the_environment_or_defaults() {
        // Only checks shape: the environment is shared by all tests in the process.
        assert!(postgres_url().starts_with("postgres"));
        assert!(redis_url().starts_with("redis"));
    }
}
