//! `docker-compose.yml` cannot be run here (no Docker), so it is checked as
//! data: the services and their health checks, the wiring between them, and the
//! quiver commands, parsed by quiver's own command-line parser.

// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use clap::Parser;
use serde_json::Value;

fn compose() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let node = marked_yaml::parse_yaml(0, &text).expect("docker-compose.yml is YAML");
    marked_yaml::from_node(&node).expect("docker-compose.yml maps to JSON")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `${VAR:-default}` as Compose expands it with VAR unset.
fn with_defaults(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let inner = &rest[start + 2..end];
        out.push_str(inner.split_once(":-").map_or("", |(_, default)| default));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_stack_is_complete_and_wired_with_health_checks() {
    let compose = compose();
    let services = compose["services"].as_object().unwrap();
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    for needed in ["postgres", "redis", "kafka", "quiver", "quiver-ingest"] {
        assert!(names.contains(needed), "service `{needed}` is missing");
    }
    for name in ["postgres", "redis", "kafka", "quiver"] {
        let test = strings(&services[name]["healthcheck"]["test"]);
        assert!(test.len() >= 2, "`{name}` has a health check");
    }
    for name in ["quiver", "quiver-ingest"] {
        let service = &services[name];
        let dockerfile = service["build"]["dockerfile"].as_str().unwrap();
        let context = service["build"]["context"].as_str().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert!(root.join(context).join(dockerfile).is_file());
        let depends = service["depends_on"].as_object().unwrap();
        for (dependency, condition) in depends {
            assert!(
                names.contains(dependency.as_str()),
                "{name} -> {dependency}"
            );
            assert_eq!(
                condition["condition"], "service_healthy",
                "{name} -> {dependency}"
            );
        }
        // The command is one quiver accepts.
        let command = strings(&service["command"]);
        let args = std::iter::once("quiver".to_string()).chain(command);
        if let Err(error) = quiver_cli::Cli::try_parse_from(args) {
            panic!("`{name}`'s command does not parse: {error}");
        }
        // It reaches the other services by their names.
        let env = &service["environment"];
        let registry = env["QUIVER_REGISTRY"].as_str().unwrap();
        assert!(registry.starts_with("postgres://") && registry.contains("@postgres:5432/"));
        assert_eq!(env["QUIVER_ONLINE_STORE_URL"], "redis://redis:6379");
        assert_eq!(env["KAFKA_BOOTSTRAP"], "kafka:9092");
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(source).is_dir(),
                "{volume}"
            );
        }
    }
    let depends: BTreeSet<&str> = services["quiver"]["depends_on"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(depends, BTreeSet::from(["kafka", "postgres", "redis"]));

    // The registry password in the URL is the one Postgres is started with.
    let password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
        .as_str()
        .unwrap();
    let registry = services["quiver"]["environment"]["QUIVER_REGISTRY"]
        .as_str()
        .unwrap();
    assert!(registry.contains(&format!(":{password}@")));

    // Named volumes are declared; published ports are HOST:CONTAINER numbers.
    let declared: BTreeSet<&str> = compose["volumes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for (name, service) in services {
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if !source.starts_with('.') && !source.starts_with('/') {
                assert!(
                    declared.contains(source),
                    "{name}: volume `{source}` is not declared"
                );
            }
        }
        for port in strings(&service["ports"]) {
            let port = with_defaults(&port);
            let (host, container) = port.split_once(':').unwrap();
            assert!(
                host.parse::<u16>().is_ok() && container.parse::<u16>().is_ok(),
                "{name}: {port}"
            );
        }
    }
}
