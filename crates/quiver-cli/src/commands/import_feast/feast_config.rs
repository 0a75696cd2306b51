//! The one thing the import reads from the Feast repo's feature_store.yaml:
//! the Postgres offline store's connection, which Feast keeps outside the
//! registry. It becomes the default of the imported sources' URL.

use std::path::Path;

use super::sources::PostgresDefaults;

/// The Postgres defaults from `feast_repo/feature_store.yaml`, or quiver's
/// when it has no Postgres offline store (or cannot be read).
pub fn postgres_defaults(feast_repo: &Path) -> PostgresDefaults {
    std::fs::read_to_string(feast_repo.join("feature_store.yaml"))
        .ok()
        .and_then(|text| from_text(&text))
        .unwrap_or_default()
}

fn from_text(text: &str) -> Option<PostgresDefaults> {
    let root = marked_yaml::parse_yaml(0, text).ok()?;
    let store = root.as_mapping()?.get_mapping("offline_store")?;
    let value = |key: &str| store.get_scalar(key).map(|s| s.as_str().to_string());
    let kind = value("type")?;
    if kind != "postgres" && !kind.ends_with(".PostgreSQLOfflineStore") {
        return None;
    }
    let host = value("host").unwrap_or_else(|| "127.0.0.1".to_string());
    let port = value("port").unwrap_or_else(|| "5432".to_string());
    let database = value("database").unwrap_or_else(|| "postgres".to_string());
    let user = value("user").map(|u| format!("{u}@")).unwrap_or_default();
    // The password stays out of the definitions: set QUIVER_SOURCE_POSTGRES_URL.
    let mut url = format!("postgres://{user}{host}:{port}/{database}");
    if let Some(mode) = value("sslmode") {
        url.push_str(&format!("?sslmode={mode}"));
    }
    let schema = value("db_schema").filter(|s| s != "public" && !s.is_empty());
    Some(PostgresDefaults { url, schema })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_postgres_offline_store() {
        let yaml = "project: demo\noffline_store:\n  type: postgres\n  host: db.internal\n  port: 6543\n  database: features\n  db_schema: feast\n  user: feast\n  password: secret\n  sslmode: disable\n";
        assert_eq!(
            from_text(yaml),
            Some(PostgresDefaults {
                url: "postgres://feast@db.internal:6543/features?sslmode=disable".to_string(),
                schema: Some("feast".to_string()),
            })
        );
        let env = "offline_store:\n  type: postgres\n  host: ${DB_HOST}\n  database: f\n  user: u\n  password: p\n  db_schema: public\n";
        assert_eq!(
            from_text(env),
            Some(PostgresDefaults {
                url: "postgres://u@${DB_HOST}:5432/f".to_string(),
                schema: None,
            })
        );
        assert_eq!(from_text("offline_store:\n  type: file\n"), None);
        assert_eq!(from_text("project: demo\n"), None);
        assert_eq!(from_text(": not yaml ["), None);
    }
}
