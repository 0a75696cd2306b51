//! The conversion of committed Feast registries (tests/fixtures/feast/, made
//! by its regenerate.sh with the real Feast): `feast init`'s example repo,
//! tests/feast/definitions.py (quiver's example repo written for Feast) and
//! cases/definitions.py (every kind, every type, what is refused and why).

use std::path::{Path, PathBuf};
use std::time::Duration;

use quiver_core::{RepoSpec, SourceKind, load_repo};

use super::convert::{Context, Conversion, convert};
use super::sources::PostgresDefaults;
use super::write::render;
use super::{dump, proto};

const DEMO: &str = include_str!("../../../../../tests/fixtures/feast/demo/registry-dump.json");
const MIRROR: &str = include_str!("../../../../../tests/fixtures/feast/mirror/registry-dump.json");
const CASES: &str = include_str!("../../../../../tests/fixtures/feast/cases/registry-dump.json");
const CASES_FILE: &[u8] = include_bytes!("../../../../../tests/fixtures/feast/cases/registry.db");

fn context() -> Context {
    Context {
        feast_repo: PathBuf::from("/work/feast/feature_repo"),
        out_dir: PathBuf::from("/work/quiver"),
        postgres: PostgresDefaults::default(),
    }
}

fn from_dump(text: &str) -> Conversion {
    convert(&dump::parse(text).unwrap(), &context())
}

/// The file `name` as the import writes it.
fn file(conversion: &Conversion, name: &str) -> String {
    let files = render(&conversion.spec, Path::new("/work/quiver"), "p").unwrap();
    let file = files.iter().find(|f| f.path.ends_with(name)).unwrap();
    // Past the two header comment lines.
    file.text
        .lines()
        .skip(2)
        .map(|l| format!("{l}\n"))
        .collect()
}

fn notes(conversion: &Conversion) -> Vec<String> {
    let notes = conversion.notes.iter();
    notes
        .map(|n| format!("{}: {}", n.object, n.reason))
        .collect()
}

#[test]
fn feast_init_example_keeps_views_and_names_what_quiver_lacks() {
    let demo = from_dump(DEMO);
    assert_eq!(demo.spec.project, "demo");
    assert_eq!(
        file(&demo, "entities.yaml"),
        "entities:\n  - name: driver\n    join_keys: [{ name: driver_id, dtype: int64 }]\n"
    );
    assert_eq!(
        file(&demo, "sources.yaml"),
        r#"sources:
  - name: driver_hourly_stats_source
    kind: parquet
    path: "../feast/feature_repo/data/driver_stats.parquet"
    timestamp_field: event_timestamp
    created_timestamp_field: created
  - name: driver_quality_labels_batch
    kind: parquet
    path: "../feast/feature_repo/data/driver_quality_labels.parquet"
    timestamp_field: event_timestamp
  - name: driver_quality_labels_push
    kind: push
    timestamp_field: event_timestamp
  - name: driver_stats_push_source
    kind: push
    timestamp_field: event_timestamp
    created_timestamp_field: created
"#
    );
    assert_eq!(
        file(&demo, "feature_views.yaml"),
        r#"feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    source: driver_hourly_stats_source
    ttl: 1day
    online: true
    features:
      - { name: conv_rate, dtype: float32 }
      - { name: acc_rate, dtype: float32 }
      - { name: avg_daily_trips, dtype: int64, description: Average daily trips }
    tags: { team: driver_performance }
  - name: driver_hourly_stats_fresh
    entities: [driver]
    source: driver_hourly_stats_source
    stream_source: driver_stats_push_source
    ttl: 1day
    online: true
    features:
      - { name: conv_rate, dtype: float32 }
      - { name: acc_rate, dtype: float32 }
      - { name: avg_daily_trips, dtype: int64 }
    tags: { team: driver_performance }
"#
    );
    assert_eq!(
        file(&demo, "feature_services.yaml"),
        "feature_services: []\n"
    );
    assert_eq!(
        notes(&demo),
        [
            "source vals_to_add: request sources feed on-demand feature views, which quiver has not",
            "feature view driver_hourly_stats, feature driver_metadata: Feast type MAP has no quiver dtype",
            "feature view driver_hourly_stats, feature driver_config: Feast type JSON has no quiver dtype",
            "feature view driver_hourly_stats, feature driver_profile: Feast type STRUCT has no quiver dtype",
            "feature view driver_hourly_stats_fresh, feature driver_metadata: Feast type MAP has no quiver dtype",
            "feature view driver_hourly_stats_fresh, feature driver_config: Feast type JSON has no quiver dtype",
            "feature view driver_hourly_stats_fresh, feature driver_profile: Feast type STRUCT has no quiver dtype",
            "feature service driver_activity_v1: it reads on-demand feature view transformed_conv_rate, which is not converted",
            "feature service driver_activity_v2: it reads feature driver_hourly_stats:driver_metadata, which is not converted",
            "feature service driver_activity_v3: it reads feature driver_hourly_stats_fresh:driver_metadata, which is not converted",
            "on-demand feature view transformed_conv_rate: it computes features in Python at request time; quiver has no request-time transformations",
            "on-demand feature view transformed_conv_rate_fresh: it computes features in Python at request time; quiver has no request-time transformations",
            "label view driver_quality_labels: quiver has no label views (mutable labels with a conflict policy)",
        ]
    );
}

/// Every feature of a service, `view` expanded to its features.
fn service_features(spec: &RepoSpec, service: &str) -> Vec<String> {
    let service = spec
        .feature_services
        .iter()
        .find(|s| s.name == service)
        .unwrap();
    let mut out = Vec::new();
    for reference in &service.features {
        match reference.split_once(':') {
            Some(_) => out.push(reference.clone()),
            None => {
                let view = spec.feature_view(reference).unwrap();
                out.extend(
                    view.features
                        .iter()
                        .map(|f| format!("{reference}:{}", f.name)),
                );
            }
        }
    }
    out
}

#[test]
fn the_feast_mirror_of_the_example_repo_imports_as_the_example_repo() {
    let mirror = from_dump(MIRROR);
    assert!(notes(&mirror).is_empty(), "{:?}", notes(&mirror));
    let example = load_repo(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../feature_repo"))
        .unwrap()
        .spec;
    let imported = &mirror.spec;
    assert_eq!(imported.project, example.project);
    assert_eq!(imported.entities.len(), example.entities.len());
    for entity in &imported.entities {
        let original = example.entity(&entity.name).unwrap();
        assert_eq!(entity.join_keys, original.join_keys, "{}", entity.name);
    }
    assert_eq!(imported.feature_views.len(), example.feature_views.len());
    for view in &imported.feature_views {
        let original = example.feature_view(&view.name).unwrap();
        assert_eq!(view.entities, original.entities, "{}", view.name);
        assert_eq!(view.ttl, original.ttl, "{}", view.name);
        assert_eq!(view.source, original.source, "{}", view.name);
        assert_eq!(view.online, original.online, "{}", view.name);
        let typed = |v: &quiver_core::FeatureViewSpec| -> Vec<(String, String)> {
            let features = v.features.iter();
            features
                .map(|f| (f.name.clone(), f.dtype.to_string()))
                .collect()
        };
        assert_eq!(typed(view), typed(original), "{}", view.name);
        let source = imported.source(&view.source).unwrap();
        let original_source = example.source(&original.source).unwrap();
        assert_eq!(source.timestamp_field, original_source.timestamp_field);
        assert_eq!(
            source.created_timestamp_field,
            original_source.created_timestamp_field
        );
    }
    // The mirror pushes to its driver view (quiver's example streams from Kafka).
    let driver = imported.feature_view("driver_hourly_stats").unwrap();
    assert_eq!(driver.stream_source.as_deref(), Some("driver_stats_push"));
    assert_eq!(
        imported.source("driver_stats_push").unwrap().kind,
        SourceKind::Push
    );
    assert_eq!(
        imported.source("driver_stats_source").unwrap().kind,
        SourceKind::Parquet {
            path: "../feast/feature_repo/data/driver_stats.parquet".to_string()
        }
    );
    for service in &example.feature_services {
        assert_eq!(
            service_features(imported, &service.name),
            service_features(&example, &service.name)
        );
    }
    assert_eq!(
        file(&mirror, "feature_services.yaml"),
        r#"feature_services:
  - name: driver_activity
    features: [driver_hourly_stats:conv_rate, driver_hourly_stats:acc_rate]
  - name: ride_ranking
    features:
      - driver_hourly_stats
      - customer_profile:current_balance
      - customer_profile:lifetime_trip_count
"#
    );
}

#[test]
fn registry_file_and_registry_dump_convert_alike() {
    let from_file = convert(&proto::parse(CASES_FILE, None).unwrap(), &context());
    let from_json = from_dump(CASES);
    assert_eq!(from_file.spec, from_json.spec);
    assert_eq!(from_file.notes, from_json.notes);
    assert!(
        proto::parse(CASES_FILE, Some("other"))
            .unwrap_err()
            .contains("no project `other` (it holds: import_cases)")
    );
}

#[test]
fn every_kind_type_and_refusal_of_the_cases_repo() {
    let cases = from_dump(CASES);
    let spec = &cases.spec;

    // Entities: a declared type, a type from the views, owner as a tag.
    assert_eq!(
        file(&cases, "entities.yaml"),
        r#"entities:
  - name: driver
    description: A driver
    join_keys: [{ name: driver_id, dtype: int64 }]
    tags: { owner: "mobility@example.com", team: mobility }
  - name: rider
    join_keys: [{ name: rider_id, dtype: string }]
"#
    );

    // Every Feast type quiver holds, exactly; the others are noted below.
    let every_type = spec.feature_view("every_type").unwrap();
    let dtypes: Vec<String> = every_type
        .features
        .iter()
        .map(|f| format!("{} {}", f.name, f.dtype))
        .collect();
    assert_eq!(
        dtypes,
        [
            "f_bool bool",
            "f_bytes bytes",
            "f_float32 float32",
            "f_float64 float64",
            "f_int32 int32",
            "f_int64 int64",
            "f_string string",
            "f_timestamp timestamp",
            "l_bool list<bool>",
            "l_bytes list<bytes>",
            "l_float32 list<float32>",
            "l_float64 list<float64>",
            "l_int32 list<int32>",
            "l_int64 list<int64>",
            "l_string list<string>",
            "l_timestamp list<timestamp>",
            "f_pdf bytes",
            "f_image bytes",
            "f_tagged int64",
        ]
    );
    assert_eq!(
        every_type
            .feature("f_float32")
            .unwrap()
            .description
            .as_deref(),
        Some("a float")
    );
    // Feast's zero TTL is "forever": no TTL in quiver.
    assert_eq!(every_type.ttl, None);
    assert!(!every_type.online);
    assert_eq!(
        every_type.description.as_deref(),
        Some("One feature of each Feast type")
    );
    assert_eq!(every_type.tags["owner"], "ml@example.com");
    assert_eq!(every_type.tags["tier"], "gold");
    // A push source: the view's `source` is the push's batch source.
    assert_eq!(every_type.source, "driver_trips");
    assert_eq!(
        every_type.stream_source.as_deref(),
        Some("driver_trips_push")
    );

    let ttl = |view: &str| spec.feature_view(view).unwrap().ttl;
    assert_eq!(ttl("driver_stats"), Some(Duration::from_secs(90 * 60)));
    assert_eq!(ttl("driver_rides"), Some(Duration::from_secs(36 * 3600)));
    assert_eq!(ttl("ride_stats"), Some(Duration::from_secs(86_400)));
    assert_eq!(ttl("quoted_rides"), None);
    assert_eq!(
        spec.feature_view("driver_rides").unwrap().entities,
        ["driver", "rider"]
    );
    // A Kafka source: batch source and stream source, as quiver's example repo.
    let ride_stats = spec.feature_view("ride_stats").unwrap();
    assert_eq!(ride_stats.source, "pg_rides");
    assert_eq!(ride_stats.stream_source.as_deref(), Some("rides_stream"));

    assert_eq!(
        file(&cases, "sources.yaml"),
        r#"sources:
  - name: driver_stats_source
    kind: parquet
    path: /srv/feast/driver_stats.parquet
    timestamp_field: event_timestamp
  - name: driver_trips
    description: Trips per driver
    kind: parquet
    path: "../feast/feature_repo/data/driver_trips.parquet"
    timestamp_field: ts
    created_timestamp_field: created_at
    field_mapping: { trips_today_raw: trips_today }
    tags: { layer: silver, owner: "data@example.com" }
  - name: driver_trips_push
    kind: push
    timestamp_field: ts
    created_timestamp_field: created_at
    field_mapping: { trips_today_raw: trips_today }
  - name: pg_quoted_table
    kind: postgres
    url: "${QUIVER_SOURCE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    query: "SELECT * FROM \"Rides 2024\""
    timestamp_field: event_ts
  - name: pg_rides
    kind: postgres
    url: "${QUIVER_SOURCE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    table: public.rides
    timestamp_field: event_ts
    created_timestamp_field: loaded_at
  - name: pg_rides_query
    kind: postgres
    url: "${QUIVER_SOURCE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    query: "SELECT * FROM rides WHERE fare > 0"
    timestamp_field: event_ts
  - name: rides_stream
    kind: kafka
    topic: rides
    bootstrap_servers: broker:9092
    format: json
    timestamp_field: event_ts
"#
    );
    assert_eq!(
        file(&cases, "feature_services.yaml"),
        r#"feature_services:
  - name: driver_overview
    description: What the dispatch model reads
    features: [driver_stats:trips_today, ride_stats:fare, every_type:f_int64, every_type:l_string]
    tags: { model: dispatch, owner: "dispatch@example.com" }
"#
    );

    assert_eq!(
        notes(&cases),
        [
            "entity trip: join key trip_id has no type: the entity declares no value_type and no feature view gives one",
            "entity zone: join key zone_id is FLOAT; quiver join keys are int32, int64, string or bytes",
            "source delta_trips: it is a delta table; quiver reads Parquet files (a file, a directory or a glob)",
            "source driver_stats: named `driver_stats_source`: another object has its name (quiver names are unique across entities, sources, views and services)",
            "source remote_trips: its file s3://bucket/trips.parquet is remote (s3://); quiver reads local files",
            "source request: request sources feed on-demand feature views, which quiver has not",
            "source rides_avro: its messages are avro; quiver's Kafka sources read JSON messages",
            "source rides_stream: watermark delay 300s is not kept: quiver's ingest takes late events whenever they come (the event-time guard orders them)",
            "source ts_renamed: its field_mapping ts_raw -> ts renames a timestamp column; quiver's field_mapping renames features and join keys only",
            "source warehouse: BigQuery sources are not supported (quiver reads Parquet files, Postgres, Kafka and push)",
            "feature view avro_rides: its stream source rides_avro is not converted: imported with its batch source only",
            "feature view every_type, feature l_float32: its vector index is not kept: quiver has no vector search",
            "feature view every_type, feature f_map: Feast type MAP has no quiver dtype",
            "feature view every_type, feature f_json: Feast type JSON has no quiver dtype",
            "feature view every_type, feature f_struct: Feast type STRUCT has no quiver dtype",
            "feature view every_type, feature f_set: Feast type STRING_SET has no quiver dtype (quiver has lists, not sets)",
            "feature view every_type, feature f_uuid: Feast type UUID has no quiver dtype",
            "feature view every_type, feature f_decimal: Feast type DECIMAL has no quiver dtype",
            "feature view every_type, feature f_tagged: its tags (pii) are not kept: quiver features have none",
            "feature view half_second: its ttl 1.5s is not a whole number of seconds, which quiver's TTLs are",
            "feature view no_entities: it has no entities (Feast's entityless view); a quiver view needs at least one",
            "feature view only_maps, feature m: Feast type MAP has no quiver dtype",
            "feature view only_maps: none of its features can be converted",
            "feature view remote_view: its batch source remote_trips is not converted",
            "feature view ride_stats, feature driver_id: it has the name of entity driver's join key; quiver answers carry the join keys beside the features, so the two would clash",
            "feature view ride_stats, feature bad-name: name `bad-name` must be letters, digits and underscores, not starting with a digit",
            "feature view ride_stats, feature event_ts: it is a timestamp column of source pg_rides",
            "feature view zone_stats: its entity zone is not converted",
            "stream feature view ride_windows: its windowed aggregations (sum(fare) over 3600s) are not converted: quiver has no stream aggregations",
            "feature service aliased: it reads view driver_stats under the name driver_stats_again (with_name); quiver services cannot rename views",
            "feature service driver: another object is named driver (quiver names are unique across entities, sources, views and services)",
            "feature service driver_overview: its feature logging is not kept: quiver does not log served features",
            "feature service join_mapped: it maps view ride_stats's join keys (rider_id -> passenger_id, with_join_key_map); quiver services cannot",
            "feature service reads_dropped: it reads feature every_type:f_map, which is not converted",
            "feature service reads_on_demand: it reads on-demand feature view rating_plus_bonus, which is not converted",
            "on-demand feature view rating_plus_bonus: it computes features in Python at request time; quiver has no request-time transformations",
            "permission readers: quiver authorizes with API tokens and scopes (`auth:` in quiver.yaml), not per-object permissions",
        ]
    );
}

#[test]
fn stream_views_with_a_transformation_are_refused() {
    let mut registry = dump::parse(CASES).unwrap();
    let windows = registry
        .feature_views
        .iter_mut()
        .find(|v| v.name == "ride_windows")
        .unwrap();
    windows.aggregations.clear();
    let conversion = convert(&registry, &context());
    assert!(
        notes(&conversion).contains(
            &"stream feature view ride_windows: it is computed by `ride_windows_udf`; quiver has no transformations"
                .to_string()
        ),
        "{:?}",
        notes(&conversion)
    );
}

#[test]
fn untyped_join_keys_whose_views_disagree_are_refused() {
    let mut registry = dump::parse(CASES).unwrap();
    let view = registry
        .feature_views
        .iter_mut()
        .find(|v| v.name == "quoted_rides")
        .unwrap();
    view.entity_columns[0].value_type = 4;
    let conversion = convert(&registry, &context());
    let notes = notes(&conversion);
    assert!(
        notes.contains(&"entity rider: join key rider_id has no declared type and the feature views disagree (STRING in avro_rides, driver_rides, ride_stats, ride_windows; INT64 in quoted_rides)".to_string()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"feature view ride_stats: its entity rider is not converted".to_string())
    );
}

#[test]
fn views_whose_entities_share_a_join_key_are_refused() {
    let mut registry = dump::parse(CASES).unwrap();
    let rider = registry
        .entities
        .iter_mut()
        .find(|e| e.name == "rider")
        .unwrap();
    rider.join_key = "driver_id".to_string();
    rider.value_type = 4;
    let notes = notes(&convert(&registry, &context()));
    assert!(
        notes.contains(
            &"feature view driver_rides: its entities driver and rider share the join key driver_id"
                .to_string()
        ),
        "{notes:?}"
    );
}
