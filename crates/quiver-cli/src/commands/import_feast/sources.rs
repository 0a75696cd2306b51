//! Feast data sources as quiver sources: files become `parquet`,
//! PostgreSQLSource `postgres`, KafkaSource `kafka`, PushSource `push`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use quiver_core::{MessageFormat, SourceKind, SourceSpec, is_identifier};

use super::convert::{Context, Notes, identifier_from, non_empty, tags_with_owner};
use super::model::{FeastRegistry, FeastSource, SourceOptions};

/// The environment variable every imported Postgres source's URL reads
/// (Feast keeps the connection in feature_store.yaml, outside the registry).
pub const POSTGRES_URL_VAR: &str = "QUIVER_SOURCE_POSTGRES_URL";

/// What the import knows of the Feast offline store's Postgres connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresDefaults {
    /// The URL used when [`POSTGRES_URL_VAR`] is unset (no password).
    pub url: String,
    /// feature_store.yaml's `db_schema`, when it is not `public`: Feast
    /// sets it as the search path, so unqualified tables live there.
    pub schema: Option<String>,
}

impl Default for PostgresDefaults {
    fn default() -> Self {
        PostgresDefaults {
            url: "postgres://postgres@127.0.0.1:5432/postgres".to_string(),
            schema: None,
        }
    }
}

/// The converted sources and the quiver name of each Feast source that converted.
pub struct SourceTable {
    pub specs: Vec<SourceSpec>,
    names: HashMap<String, String>,
}

impl SourceTable {
    /// The quiver source of a Feast source name, if it converted.
    pub fn get(&self, feast_name: &str) -> Option<&SourceSpec> {
        let name = self.names.get(feast_name)?;
        self.specs.iter().find(|s| &s.name == name)
    }
}

/// Converts every source of the registry: the listed ones, then those only
/// embedded in views (a view holds a copy of its sources).
pub fn convert_all(
    registry: &FeastRegistry,
    context: &Context,
    api_names: &HashSet<&str>,
    notes: &mut Notes,
) -> SourceTable {
    let mut all: Vec<&FeastSource> = Vec::new();
    let mut seen = HashSet::new();
    let embedded = registry
        .feature_views
        .iter()
        .flat_map(|v| v.batch_source.iter().chain(v.stream_source.iter()));
    for source in registry.data_sources.iter().chain(embedded) {
        for source in std::iter::once(source).chain(source.batch_source.as_deref()) {
            if seen.insert(source.name.as_str()) {
                all.push(source);
            }
        }
    }

    let mut table = SourceTable {
        specs: Vec::new(),
        names: HashMap::new(),
    };
    let mut used: HashSet<String> = api_names.iter().map(|n| n.to_string()).collect();
    for source in all {
        let object = format!("source {}", source.name);
        match convert(source, context, notes) {
            Ok(mut spec) => {
                let name = quiver_name(&source.name, &used);
                if name != source.name {
                    notes.add(&object, rename_reason(source, &name));
                }
                used.insert(name.clone());
                spec.name = name.clone();
                spec.tags = tags_with_owner(&source.tags, &source.owner, &object, notes);
                table.names.insert(source.name.clone(), name);
                table.specs.push(spec);
            }
            Err(reason) => notes.add(object, reason),
        }
    }
    table
}

/// The Feast name, or one derived from it that is an identifier and free.
fn quiver_name(feast: &str, used: &HashSet<String>) -> String {
    if is_identifier(feast) && !used.contains(feast) {
        return feast.to_string();
    }
    let mut base = identifier_from(feast);
    base.truncate(quiver_core::MAX_NAME_LEN - "_source_999".len());
    if is_identifier(&base) && !used.contains(&base) {
        return base;
    }
    let candidate = format!("{base}_source");
    if !used.contains(&candidate) {
        return candidate;
    }
    (2..)
        .map(|n| format!("{base}_source_{n}"))
        .find(|c| !used.contains(c))
        .unwrap_or(candidate)
}

fn rename_reason(source: &FeastSource, name: &str) -> String {
    let why = if is_identifier(&source.name) {
        "another object has its name (quiver names are unique across entities, sources, views and services)"
    } else {
        "quiver names are letters, digits and underscores"
    };
    let push = if matches!(source.options, SourceOptions::Push) {
        "; pushes name it by this name"
    } else {
        ""
    };
    format!("named `{name}`: {why}{push}")
}

fn convert(
    source: &FeastSource,
    context: &Context,
    notes: &mut Notes,
) -> Result<SourceSpec, String> {
    let batch = source.batch_source.as_deref();
    let object = format!("source {}", source.name);
    let kind = match &source.options {
        SourceOptions::File { uri, table_format } => {
            if let Some(format) = table_format {
                return Err(format!(
                    "it is a {format} table; quiver reads Parquet files (a file, a directory or a glob)"
                ));
            }
            let path = quiver_path(uri, context)?;
            SourceKind::Parquet { path }
        }
        SourceOptions::Custom {
            class,
            configuration,
        } => {
            if !class.ends_with(".PostgreSQLSource") {
                return Err(format!(
                    "custom source class {class} is not supported (quiver reads Parquet files, Postgres, Kafka and push)"
                ));
            }
            postgres(configuration, context, &object, notes)?
        }
        SourceOptions::Kafka {
            bootstrap_servers,
            topic,
            format,
            watermark_delay,
        } => {
            match format {
                Some("json") => {}
                Some(other) => {
                    return Err(format!(
                        "its messages are {other}; quiver's Kafka sources read JSON messages"
                    ));
                }
                None => return Err("it names no message format".to_string()),
            }
            if topic.is_empty() {
                return Err("it names no topic".to_string());
            }
            if let Some(delay) = watermark_delay.filter(|d| d.seconds != 0 || d.nanos != 0) {
                notes.add(
                    &object,
                    format!(
                        "watermark delay {} is not kept: quiver's ingest takes late events whenever they come (the event-time guard orders them)",
                        delay.text()
                    ),
                );
            }
            SourceKind::Kafka {
                topic: topic.clone(),
                // Only `url` and `bootstrap_servers` expand `${VAR}`: keep a `$` literal.
                bootstrap_servers: non_empty(&bootstrap_servers.replace('$', "$$")),
                format: MessageFormat::Json,
            }
        }
        SourceOptions::Push => SourceKind::Push,
        SourceOptions::Other(source_type) => return Err(unsupported(source_type)),
        SourceOptions::Invalid => return Err("the registry gives it no type".to_string()),
    };
    // Pushed rows are written to the push source's batch source, so they
    // carry its timestamps (Feast copies them to the push source as well).
    let pushed = matches!(kind, SourceKind::Push);
    let inherit = |own: &str, from_batch: fn(&FeastSource) -> &str| {
        non_empty(own).or_else(|| {
            batch
                .filter(|_| pushed)
                .and_then(|b| non_empty(from_batch(b)))
        })
    };
    let timestamp_field = match inherit(&source.timestamp_field, |b| &b.timestamp_field) {
        Some(field) => field,
        None if pushed => "event_timestamp".to_string(),
        None => return Err("it names no timestamp field".to_string()),
    };
    let created_timestamp_field = inherit(&source.created_timestamp_column, |b| {
        &b.created_timestamp_column
    })
    .filter(|created| *created != timestamp_field);
    check_field_mapping(
        &source.field_mapping,
        &timestamp_field,
        created_timestamp_field.as_deref(),
    )?;
    Ok(SourceSpec {
        name: source.name.clone(),
        kind,
        timestamp_field,
        created_timestamp_field,
        field_mapping: source.field_mapping.clone(),
        description: non_empty(&source.description),
        tags: BTreeMap::new(),
    })
}

/// Why a kind of source (by Feast's `SourceType` name) is not converted.
fn unsupported(source_type: &str) -> String {
    let kind = match source_type {
        "REQUEST_SOURCE" => {
            return "request sources feed on-demand feature views, which quiver has not"
                .to_string();
        }
        "BATCH_BIGQUERY" => "BigQuery",
        "BATCH_REDSHIFT" => "Redshift",
        "BATCH_SNOWFLAKE" => "Snowflake",
        "BATCH_TRINO" => "Trino",
        "BATCH_SPARK" => "Spark",
        "BATCH_ATHENA" => "Athena",
        "BATCH_ICEBERG" => "Iceberg",
        "STREAM_KINESIS" => "Kinesis",
        other => other,
    };
    format!(
        "{kind} sources are not supported (quiver reads Parquet files, Postgres, Kafka and push)"
    )
}

/// Quiver's field_mapping renames features and join keys, never the timestamps.
fn check_field_mapping(
    mapping: &BTreeMap<String, String>,
    timestamp_field: &str,
    created: Option<&str>,
) -> Result<(), String> {
    let timestamps = [Some(timestamp_field), created];
    let mut targets = HashSet::new();
    for (from, to) in mapping {
        if timestamps.contains(&Some(to.as_str())) || timestamps.contains(&Some(from.as_str())) {
            return Err(format!(
                "its field_mapping {from} -> {to} renames a timestamp column; quiver's field_mapping renames features and join keys only"
            ));
        }
        if from.is_empty() || !is_identifier(to) || !targets.insert(to) {
            return Err(format!(
                "its field_mapping {from} -> {to} does not name a distinct quiver field (letters, digits and underscores)"
            ));
        }
    }
    Ok(())
}

/// PostgreSQLSource keeps `{"name", "query", "table"}` as JSON in its custom options.
fn postgres(
    configuration: &[u8],
    context: &Context,
    object: &str,
    notes: &mut Notes,
) -> Result<SourceKind, String> {
    #[derive(serde::Deserialize)]
    struct Options {
        #[serde(default)]
        table: Option<String>,
        #[serde(default)]
        query: Option<String>,
    }
    let options: Options = serde_json::from_slice(configuration)
        .map_err(|e| format!("its PostgreSQLSource options are not the JSON Feast writes: {e}"))?;
    let table = options.table.filter(|t| !t.trim().is_empty());
    let query = options.query.filter(|q| !q.trim().is_empty());
    let schema = context.postgres.schema.as_deref();
    let (table, query) = match (table, query) {
        // Feast puts the name into its SQL unquoted, so Postgres folds it to
        // lower case; quiver quotes it, so it is written folded.
        (Some(table), _) if is_table_name(&table) => {
            let table = table.to_ascii_lowercase();
            let table = match schema {
                Some(schema) if !table.contains('.') => format!("{schema}.{table}"),
                _ => table,
            };
            (Some(table), None)
        }
        // A quoted or otherwise unusual name stays as Feast wrote it, in a query.
        (Some(table), _) => (None, Some(format!("SELECT * FROM {table}"))),
        (None, Some(query)) => (None, Some(query)),
        (None, None) => {
            return Err("its PostgreSQLSource names neither a table nor a query".to_string());
        }
    };
    if let (Some(schema), Some(_)) = (schema, &query) {
        notes.add(
            object,
            format!(
                "its query runs on quiver's connection, whose search path is not Feast's db_schema `{schema}`: qualify its tables if they live there"
            ),
        );
    }
    let url = format!("${{{POSTGRES_URL_VAR}:-{}}}", context.postgres.url);
    quiver_core::env::check_references(&url)
        .map_err(|e| format!("the Postgres URL made from feature_store.yaml is not usable: {e}"))?;
    Ok(SourceKind::Postgres { url, table, query })
}

/// What quiver takes as `table`: `name` or `schema.name`.
fn is_table_name(table: &str) -> bool {
    table.split('.').count() <= 2 && table.split('.').all(is_identifier)
}

/// A Feast file path as the quiver repo must write it to reach the same file:
/// relative paths start at the Feast repo, and are written relative to the
/// quiver repo when the two share a directory (absolute otherwise).
fn quiver_path(uri: &str, context: &Context) -> Result<String, String> {
    let local = uri.strip_prefix("file://").unwrap_or(uri);
    if let Some((scheme, _)) = local.split_once("://") {
        return Err(format!(
            "its file {uri} is remote ({scheme}://); quiver reads local files"
        ));
    }
    if local.is_empty() {
        return Err("it names no file".to_string());
    }
    let absolute = normalize(&context.feast_repo.join(local));
    let relative = relative_to(&absolute, &normalize(&context.out_dir));
    let path = relative.unwrap_or(absolute);
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| format!("its file {uri} is not a UTF-8 path"))
}

/// Removes `.` and resolves `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `base` when they share more than the root.
fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let shares_a_directory = path[..common]
        .iter()
        .any(|c| matches!(c, Component::Normal(_)));
    if !shares_a_directory {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for component in &path[common..] {
        out.push(component);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(feast: &str, out: &str) -> Context {
        Context {
            feast_repo: PathBuf::from(feast),
            out_dir: PathBuf::from(out),
            postgres: PostgresDefaults::default(),
        }
    }

    #[test]
    fn file_paths_reach_the_same_file_from_the_quiver_repo() {
        let c = context("/work/feast/feature_repo", "/work/quiver_repo");
        assert_eq!(
            quiver_path("data/driver_stats.parquet", &c).unwrap(),
            "../feast/feature_repo/data/driver_stats.parquet"
        );
        assert_eq!(
            quiver_path("./data/../data/x.parquet", &c).unwrap(),
            "../feast/feature_repo/data/x.parquet"
        );
        // Inside the quiver repo, and in the same directory.
        let same = context("/work/repo", "/work/repo");
        assert_eq!(
            quiver_path("data/x.parquet", &same).unwrap(),
            "data/x.parquet"
        );
        assert_eq!(
            quiver_path("/work/repo/data/x.parquet", &same).unwrap(),
            "data/x.parquet"
        );
        assert_eq!(
            quiver_path("file:///work/repo/x.parquet", &same).unwrap(),
            "x.parquet"
        );
        // Nothing shared but the root: absolute.
        assert_eq!(
            quiver_path("/srv/feast/x.parquet", &c).unwrap(),
            "/srv/feast/x.parquet"
        );
        assert!(
            quiver_path("s3://bucket/x.parquet", &c)
                .unwrap_err()
                .contains("remote (s3://)")
        );
    }

    #[test]
    fn field_mappings_may_not_touch_timestamps() {
        let mapping = |from: &str, to: &str| BTreeMap::from([(from.to_string(), to.to_string())]);
        assert!(check_field_mapping(&mapping("raw", "trips"), "ts", Some("created")).is_ok());
        assert!(
            check_field_mapping(&mapping("ts_raw", "ts"), "ts", None)
                .unwrap_err()
                .contains("renames a timestamp column")
        );
        assert!(check_field_mapping(&mapping("created", "c"), "ts", Some("created")).is_err());
        assert!(
            check_field_mapping(&mapping("a", "not-a-name"), "ts", None)
                .unwrap_err()
                .contains("distinct quiver field")
        );
    }

    #[test]
    fn source_names_are_made_free_identifiers() {
        let used: HashSet<String> = [
            "driver_stats".to_string(),
            "driver_stats_source".to_string(),
        ]
        .into_iter()
        .collect();
        assert_eq!(quiver_name("trips", &used), "trips");
        assert_eq!(quiver_name("driver-trips", &used), "driver_trips");
        assert_eq!(quiver_name("driver_stats", &used), "driver_stats_source_2");
        assert_eq!(quiver_name("9lives", &used), "_9lives");
    }

    #[test]
    fn postgres_tables_and_queries() {
        let mut notes = Notes::default();
        let mut c = context("/f", "/q");
        let kind = |json: &str, c: &Context, notes: &mut Notes| {
            postgres(json.as_bytes(), c, "source s", notes)
        };
        let expect = |table: Option<&str>, query: Option<&str>| SourceKind::Postgres {
            url: "${QUIVER_SOURCE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
                .to_string(),
            table: table.map(str::to_string),
            query: query.map(str::to_string),
        };
        let rides = r#"{"name": "s", "query": "", "table": "Rides"}"#;
        assert_eq!(
            kind(rides, &c, &mut notes).unwrap(),
            expect(Some("rides"), None)
        );
        assert_eq!(
            kind(
                r#"{"name": "s", "query": null, "table": "\"Rides\""}"#,
                &c,
                &mut notes
            )
            .unwrap(),
            expect(None, Some("SELECT * FROM \"Rides\""))
        );
        assert!(kind(r#"{"name": "s", "query": "", "table": ""}"#, &c, &mut notes).is_err());
        assert!(notes.0.is_empty());

        c.postgres.schema = Some("features".to_string());
        assert_eq!(
            kind(rides, &c, &mut notes).unwrap(),
            expect(Some("features.rides"), None)
        );
        let query = r#"{"name": "s", "query": "SELECT 1", "table": null}"#;
        assert_eq!(
            kind(query, &c, &mut notes).unwrap(),
            expect(None, Some("SELECT 1"))
        );
        assert!(notes.0[0].reason.contains("search path"), "{:?}", notes.0);
    }
}
