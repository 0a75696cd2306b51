//! `quiver.yaml`: the project name and where its stores live.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use marked_yaml::Spanned;
use serde::Deserialize;

use crate::auth::{self, AuthConfig, RawAuth};
use crate::env;
use crate::error::{DefinitionError, Location};
use crate::read::{ReadError, read_text};
use crate::yaml;

pub const CONFIG_FILE: &str = "quiver.yaml";
pub const DEFAULT_REGISTRY: &str = "sqlite://.quiver/registry.db";
pub const DEFAULT_OFFLINE_PATH: &str = ".quiver/offline";
pub const DEFAULT_ONLINE_PATH: &str = ".quiver/online";

/// The typed project configuration, with `${VAR}` references expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectConfig {
    pub project: String,
    /// `sqlite://path` (relative to the repo) or `postgres://...`.
    pub registry: String,
    pub offline_store: OfflineStoreConfig,
    pub online_store: OnlineStoreConfig,
    pub kafka: Option<KafkaConfig>,
    /// API tokens; `None`: the API is open (loopback only, unless told otherwise).
    pub auth: Option<AuthConfig>,
    /// HTTPS for `quiver serve`; `None`: plain HTTP.
    pub tls: Option<TlsConfig>,
}

/// The server's certificate chain and private key, as PEM files (paths as
/// written, relative to the repo root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OfflineStoreConfig {
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OnlineStoreConfig {
    Embedded {
        path: PathBuf,
    },
    Redis {
        url: String,
        /// Use the Redis Cluster client (the URL may list several seed nodes, comma separated).
        cluster: bool,
        /// Let entity keys expire with their views' TTL.
        key_expiry: bool,
    },
}

/// The Kafka ingest (`quiver ingest`): the cluster, the consumer group and how
/// messages are batched.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    /// Consumer group; every worker of a project shares it. Default `quiver-PROJECT`.
    pub group_id: String,
    /// Where bad messages go, with the reason in headers. Default `quiver-PROJECT-dead-letter`.
    pub dead_letter_topic: String,
    /// A micro-batch is written when it holds this many messages...
    pub batch_max_messages: usize,
    /// ...or when its first message is this old.
    pub batch_max_wait: Duration,
    /// Append streamed rows to the offline store too (training sets see them).
    pub offline: bool,
    /// Extra librdkafka properties (security, timeouts), passed through as given.
    pub properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    pub const DEFAULT_BATCH_MAX_MESSAGES: usize = 50_000;
    pub const DEFAULT_BATCH_MAX_WAIT: Duration = Duration::from_millis(5);

    /// The defaults for `project` on the cluster at `bootstrap_servers`.
    pub fn new(project: &str, bootstrap_servers: &str) -> Self {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.to_string(),
            group_id: format!("quiver-{project}"),
            dead_letter_topic: format!("quiver-{project}-dead-letter"),
            batch_max_messages: Self::DEFAULT_BATCH_MAX_MESSAGES,
            batch_max_wait: Self::DEFAULT_BATCH_MAX_WAIT,
            offline: true,
            properties: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    project: Spanned<String>,
    registry: Option<Spanned<String>>,
    offline_store: Option<RawOfflineStore>,
    online_store: Option<Spanned<RawOnlineStore>>,
    kafka: Option<RawKafka>,
    auth: Option<RawAuth>,
    tls: Option<RawTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Spanned<String>,
    key: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOfflineStore {
    path: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOnlineStore {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    path: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    cluster: Option<bool>,
    key_expiry: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKafka {
    bootstrap_servers: Spanned<String>,
    group_id: Option<Spanned<String>>,
    dead_letter_topic: Option<Spanned<String>>,
    batch_max_messages: Option<usize>,
    batch_max_wait_ms: Option<u64>,
    offline: Option<bool>,
    #[serde(default)]
    properties: BTreeMap<String, Spanned<String>>,
}

impl ProjectConfig {
    /// Reads `quiver.yaml` in `root`.
    pub fn load(root: &Path) -> Result<Self, Vec<DefinitionError>> {
        let file = root.join(CONFIG_FILE);
        let text = read_text(&file).map_err(|e| match e {
            ReadError::Missing(e) => vec![DefinitionError::new(
                Location::file_start(&file),
                "",
                format!("cannot read project config: {e} (is {} a quiver repo? `quiver init` creates one)", root.display()),
            )],
            ReadError::Refused(e) => vec![e],
        })?;
        Self::parse(&file, &text, &|name| std::env::var(name).ok())
    }

    /// Parses config text; `lookup` resolves `${VAR}` references.
    pub fn parse(
        file: &Path,
        text: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Vec<DefinitionError>> {
        let raw: RawConfig = yaml::deserialize_one(file, text).map_err(|e| vec![e])?;
        let errors = RefCell::new(Vec::new());
        let expand = |value: &Spanned<String>, field: &str| -> String {
            match env::expand_with(value, lookup) {
                Ok(v) => v,
                Err(message) => {
                    errors.borrow_mut().push(DefinitionError::new(
                        yaml::location(file, value.span()),
                        field,
                        message,
                    ));
                    String::new()
                }
            }
        };

        let project = expand(&raw.project, "project");
        let registry = raw
            .registry
            .as_ref()
            .map(|r| expand(r, "registry"))
            .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
        let offline_path = raw
            .offline_store
            .as_ref()
            .map(|o| expand(&o.path, "offline_store.path"))
            .unwrap_or_else(|| DEFAULT_OFFLINE_PATH.to_string());
        let online_store = match &raw.online_store {
            None => OnlineStoreConfig::Embedded {
                path: DEFAULT_ONLINE_PATH.into(),
            },
            Some(online) => {
                let kind = expand(&online.kind, "online_store.type");
                let path = online.path.as_ref().map(|p| expand(p, "online_store.path"));
                let url = online.url.as_ref().map(|u| expand(u, "online_store.url"));
                match (kind.as_str(), path, url) {
                    ("embedded", path, None) => OnlineStoreConfig::Embedded {
                        path: path
                            .unwrap_or_else(|| DEFAULT_ONLINE_PATH.to_string())
                            .into(),
                    },
                    ("redis", None, Some(url)) => OnlineStoreConfig::Redis {
                        url,
                        cluster: online.cluster.unwrap_or(false),
                        key_expiry: online.key_expiry.unwrap_or(false),
                    },
                    ("redis", None, None) => {
                        errors.borrow_mut().push(DefinitionError::new(
                            yaml::location(file, online.span()),
                            "online_store.url",
                            "a redis online store needs `url` (e.g. redis://127.0.0.1:6379)",
                        ));
                        OnlineStoreConfig::Embedded {
                            path: DEFAULT_ONLINE_PATH.into(),
                        }
                    }
                    ("embedded", _, Some(_)) | ("redis", Some(_), _) => {
                        errors.borrow_mut().push(DefinitionError::new(
                            yaml::location(file, online.span()),
                            "online_store",
                            "an embedded store takes `path`, a redis store takes `url`",
                        ));
                        OnlineStoreConfig::Embedded {
                            path: DEFAULT_ONLINE_PATH.into(),
                        }
                    }
                    (other, _, _) => {
                        errors.borrow_mut().push(DefinitionError::new(
                            yaml::location(file, online.kind.span()),
                            "online_store.type",
                            format!(
                                "unknown online store type `{other}` (expected embedded or redis)"
                            ),
                        ));
                        OnlineStoreConfig::Embedded {
                            path: DEFAULT_ONLINE_PATH.into(),
                        }
                    }
                }
            }
        };
        if let (Some(online), OnlineStoreConfig::Embedded { .. }) =
            (&raw.online_store, &online_store)
            && (online.cluster.is_some() || online.key_expiry.is_some())
        {
            errors.borrow_mut().push(DefinitionError::new(
                yaml::location(file, online.span()),
                "online_store",
                "`cluster` and `key_expiry` apply to a redis online store only",
            ));
        }
        let kafka = raw.kafka.as_ref().map(|k| {
            let mut kafka = KafkaConfig::new(
                &project,
                &expand(&k.bootstrap_servers, "kafka.bootstrap_servers"),
            );
            if let Some(group) = &k.group_id {
                kafka.group_id = expand(group, "kafka.group_id");
            }
            if let Some(topic) = &k.dead_letter_topic {
                kafka.dead_letter_topic = expand(topic, "kafka.dead_letter_topic");
            }
            kafka.batch_max_messages = k
                .batch_max_messages
                .unwrap_or(kafka.batch_max_messages)
                .max(1);
            if let Some(ms) = k.batch_max_wait_ms {
                kafka.batch_max_wait = Duration::from_millis(ms);
            }
            kafka.offline = k.offline.unwrap_or(true);
            kafka.properties = k
                .properties
                .iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        expand(value, &format!("kafka.properties.{name}")),
                    )
                })
                .collect();
            kafka
        });

        let auth = raw
            .auth
            .as_ref()
            .and_then(|a| auth::parse(file, a, &mut errors.borrow_mut()));
        let tls = raw.tls.as_ref().map(|t| {
            let path = |value: &Spanned<String>, field: &str| {
                let reported = errors.borrow().len();
                let path = expand(value, field);
                if path.trim().is_empty() && errors.borrow().len() == reported {
                    errors.borrow_mut().push(DefinitionError::new(
                        yaml::location(file, value.span()),
                        field,
                        "expected the path of a PEM file",
                    ));
                }
                PathBuf::from(path)
            };
            TlsConfig {
                cert: path(&t.cert, "tls.cert"),
                key: path(&t.key, "tls.key"),
            }
        });

        if let Some(reason) = crate::validate::identifier_error(&project) {
            errors.borrow_mut().push(DefinitionError::new(
                yaml::location(file, raw.project.span()),
                "project",
                format!("project name `{project}` {reason}"),
            ));
        }
        let errors = errors.into_inner();
        if errors.is_empty() {
            Ok(Self {
                project,
                registry,
                offline_store: OfflineStoreConfig {
                    path: offline_path.into(),
                },
                online_store,
                kafka,
                auth,
                tls,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProjectConfig, Vec<DefinitionError>> {
        let lookup = |name: &str| (name == "PG_HOST").then(|| "db".to_string());
        ProjectConfig::parse(Path::new("repo/quiver.yaml"), text, &lookup)
    }

    #[test]
    fn defaults_and_expansion() {
        let config = parse("project: demo\nregistry: postgres://u@${PG_HOST}/reg\n").unwrap();
        assert_eq!(config.project, "demo");
        assert_eq!(config.registry, "postgres://u@db/reg");
        assert_eq!(
            config.offline_store.path,
            PathBuf::from(DEFAULT_OFFLINE_PATH)
        );
        assert_eq!(
            config.online_store,
            OnlineStoreConfig::Embedded {
                path: DEFAULT_ONLINE_PATH.into()
            }
        );
        assert_eq!(config.kafka, None);
    }

    #[test]
    fn defaults_may_hold_references() {
        let config = parse(
            "project: demo\nregistry: \"${REG:-postgres://${PG_HOST}/${DB:-reg}}\"\noffline_store: { path: \"${OFF:-${NOPE:-/data}/$$x}\" }\n",
        )
        .unwrap();
        assert_eq!(config.registry, "postgres://db/reg");
        assert_eq!(config.offline_store.path, PathBuf::from("/data/$x"));
        let errors = parse("project: demo\n\nregistry: \"${REG:-${NOPE}}\"\n").unwrap_err();
        let text = errors[0].to_string();
        assert!(
            text.starts_with("repo/quiver.yaml:3:")
                && text.contains("registry: environment variable `NOPE` is not set"),
            "{text}"
        );
    }

    #[test]
    fn redis_cluster_options() {
        let config = parse(
            "project: demo\nonline_store: { type: redis, url: \"redis://a:7000,redis://b:7000\", cluster: true, key_expiry: true }\n",
        )
        .unwrap();
        assert!(matches!(
            config.online_store,
            OnlineStoreConfig::Redis {
                cluster: true,
                key_expiry: true,
                ..
            }
        ));
        let errors =
            parse("project: demo\nonline_store: { type: embedded, cluster: true }\n").unwrap_err();
        assert!(
            errors[0]
                .to_string()
                .contains("apply to a redis online store only"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn kafka_defaults_and_overrides() {
        let config = parse("project: demo\nkafka: { bootstrap_servers: \"k:9092\" }\n").unwrap();
        assert_eq!(config.kafka, Some(KafkaConfig::new("demo", "k:9092")));
        let kafka = config.kafka.unwrap();
        assert_eq!(kafka.group_id, "quiver-demo");
        assert_eq!(kafka.dead_letter_topic, "quiver-demo-dead-letter");
        let config = parse(
            "project: demo\nkafka:\n  bootstrap_servers: k:9092\n  group_id: g\n  batch_max_messages: 500\n  batch_max_wait_ms: 5\n  offline: false\n  properties: { security.protocol: \"${PG_HOST}\" }\n",
        )
        .unwrap();
        let kafka = config.kafka.unwrap();
        assert_eq!(
            (kafka.group_id.as_str(), kafka.batch_max_messages),
            ("g", 500)
        );
        assert_eq!(kafka.batch_max_wait, Duration::from_millis(5));
        assert!(!kafka.offline);
        assert_eq!(kafka.properties["security.protocol"], "db");
    }

    #[test]
    fn auth_tokens_are_hashes_with_scopes() {
        let hash = hex::encode(auth::token_sha256("s3cret"));
        let text = format!(
            "project: demo\nauth:\n  tokens:\n    - {{ name: model, sha256: \"{hash}\", scopes: [read-online] }}\n"
        );
        let auth = parse(&text).unwrap().auth.unwrap();
        let token = auth.find("s3cret").unwrap();
        assert_eq!(token.name, "model");
        assert!(token.scopes.contains(&auth::Scope::ReadOnline));
        assert!(auth.find("s3cret ").is_none());
        assert_eq!(
            parse("project: demo\nauth: { enabled: false }\n")
                .unwrap()
                .auth,
            None
        );

        let errors = parse(
            "project: demo\nauth:\n  tokens:\n    - { name: a, sha256: xyz, scopes: [read-online, fly] }\n",
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text[0].contains("quiver.yaml:4:") && text[0].contains("auth.tokens[0].sha256"),
            "{text:?}"
        );
        assert!(
            text[1].contains("auth.tokens[0].scopes") && text[1].contains("unknown scope `fly`"),
            "{text:?}"
        );
    }

    #[test]
    fn tls_section() {
        assert_eq!(parse("project: demo\n").unwrap().tls, None);
        let config = parse(
            "project: demo\ntls: { cert: certs/server.pem, key: \"/etc/${PG_HOST}/key.pem\" }\n",
        )
        .unwrap();
        assert_eq!(
            config.tls,
            Some(TlsConfig {
                cert: "certs/server.pem".into(),
                key: "/etc/db/key.pem".into(),
            })
        );
    }

    #[test]
    fn tls_errors_name_file_line_and_field() {
        let errors =
            parse("project: demo\ntls:\n  cert: c.pem\n  key: k.pem\n  ca: ca.pem\n").unwrap_err();
        let text = errors[0].to_string();
        assert!(
            text.contains("quiver.yaml:5:") && text.contains("unknown field `ca`"),
            "{text}"
        );

        let errors = parse("project: demo\ntls: { cert: c.pem }\n").unwrap_err();
        let text = errors[0].to_string();
        assert!(
            text.contains("quiver.yaml:2:") && text.contains("tls") && text.contains("`key`"),
            "{text}"
        );

        let errors =
            parse("project: demo\n\ntls: { cert: \"${CERT:-}\", key: \"${KEY}\" }\n").unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(
            text[0].starts_with("repo/quiver.yaml:3:")
                && text[0].contains("tls.cert")
                && text[0].contains("PEM file"),
            "{text:?}"
        );
        assert!(
            text[1].contains("tls.key") && text[1].contains("`KEY` is not set"),
            "{text:?}"
        );
    }

    #[test]
    fn redis_online_store() {
        let config = parse(
            "project: demo\nonline_store: { type: redis, url: \"redis://${PG_HOST}:6379\" }\n",
        )
        .unwrap();
        assert_eq!(
            config.online_store,
            OnlineStoreConfig::Redis {
                url: "redis://db:6379".into(),
                cluster: false,
                key_expiry: false,
            }
        );
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let errors =
            parse("project: demo\n\nkafka: { bootstrap_servers: \"${KAFKA}\" }\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        let text = errors[0].to_string();
        assert!(text.starts_with("repo/quiver.yaml:3:"), "{text}");
        assert!(text.contains("kafka.bootstrap_servers"), "{text}");
        assert!(text.contains("`KAFKA` is not set"), "{text}");

        let errors = parse("project: demo\nonline_store: { type: memcached }\n").unwrap_err();
        assert!(
            errors[0].to_string().contains("quiver.yaml:2:"),
            "{}",
            errors[0]
        );
        assert!(
            errors[0]
                .to_string()
                .contains("unknown online store type `memcached`")
        );

        let errors = parse("project: demo\nregstry: sqlite://x\n").unwrap_err();
        let text = errors[0].to_string();
        assert!(
            text.contains("quiver.yaml:2:") && text.contains("regstry"),
            "{text}"
        );

        let errors = parse("project: 9lives\n").unwrap_err();
        assert!(
            errors[0].to_string().contains("project: project name"),
            "{}",
            errors[0]
        );
    }
}
