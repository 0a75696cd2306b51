//! Semantic checks across all definition files: names, references, types, TTLs.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use marked_yaml::Spanned;

use crate::checks::{self, CheckPart, CheckText, DriftSpec};
use crate::dtype::ValueType;
use crate::env;
use crate::error::{DefinitionError, Location};
use crate::locations::Locations;
use crate::raw::{
    RawCheck, RawDefinitionsFile, RawEntity, RawFeatureService, RawFeatureView, RawSource, S,
};
use crate::spec::{
    EntitySpec, FeatureServiceSpec, FeatureSpec, FeatureViewSpec, JoinKey, MessageFormat,
    ObjectKind, RepoSpec, SourceKind, SourceSpec,
};
use crate::ttl::parse_ttl;
use crate::yaml;

/// One parsed definitions file.
pub(crate) struct ParsedFile {
    pub path: PathBuf,
    pub raw: RawDefinitionsFile,
}

/// The longest name of a project, object, join key or feature, in bytes.
/// Names become directory and file names in the offline store (with prefixes
/// and suffixes added, where most file systems allow 255 bytes), parts of
/// Redis keys and registry rows: a longer name would pass `plan` and then fail
/// every write. 128 leaves room for what is added.
pub const MAX_NAME_LEN: usize = 128;

/// Letters, digits and underscores, not starting with a digit, at most
/// [`MAX_NAME_LEN`] bytes.
pub fn is_identifier(name: &str) -> bool {
    identifier_error(name).is_none()
}

/// Why `name` is not an identifier (to follow "name `NAME`"), or `None`.
pub fn identifier_error(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let well_formed = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        Some("must be letters, digits and underscores, not starting with a digit".to_string())
    } else if name.len() > MAX_NAME_LEN {
        Some(format!(
            "is {} bytes long; names are at most {MAX_NAME_LEN}",
            name.len()
        ))
    } else {
        None
    }
}

pub(crate) fn validate(
    project: &str,
    files: &[ParsedFile],
) -> Result<(RepoSpec, Locations), Vec<DefinitionError>> {
    let mut v = Validator::default();
    v.collect_names(files);
    let mut repo = RepoSpec {
        project: project.to_string(),
        ..Default::default()
    };
    for file in files {
        for e in &file.raw.entities {
            if let Some(spec) = v.entity(&file.path, e) {
                repo.entities.push(spec);
            }
        }
        for s in &file.raw.sources {
            if let Some(spec) = v.source(&file.path, s) {
                repo.sources.push(spec);
            }
        }
    }
    for file in files {
        for fv in &file.raw.feature_views {
            if let Some(spec) = v.feature_view(&file.path, fv, &repo) {
                repo.feature_views.push(spec);
            }
        }
    }
    for file in files {
        for fs in &file.raw.feature_services {
            if let Some(spec) = v.feature_service(&file.path, fs, &repo) {
                repo.feature_services.push(spec);
            }
        }
    }
    if v.errors.is_empty() {
        Ok((repo, v.locations))
    } else {
        Err(v.errors)
    }
}

#[derive(Default)]
struct Validator {
    errors: Vec<DefinitionError>,
    locations: Locations,
    /// Every object name, to resolve references even to objects that failed validation.
    names: HashMap<String, (ObjectKind, Location)>,
    /// Names that are defined more than once: their objects are skipped after one error.
    duplicates: HashSet<(PathBuf, usize)>,
}

fn section(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Entity => "entities",
        ObjectKind::Source => "sources",
        ObjectKind::FeatureView => "feature_views",
        ObjectKind::FeatureService => "feature_services",
    }
}

impl Validator {
    fn at(&self, file: &Path, value: &S) -> Location {
        yaml::location(file, value.span())
    }

    fn push(&mut self, location: Location, field: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(DefinitionError::new(location, field, message));
    }

    fn collect_names(&mut self, files: &[ParsedFile]) {
        for file in files {
            let names = file
                .raw
                .entities
                .iter()
                .map(|e| (ObjectKind::Entity, &e.name))
                .chain(
                    file.raw
                        .sources
                        .iter()
                        .map(|s| (ObjectKind::Source, &s.name)),
                )
                .chain(
                    file.raw
                        .feature_views
                        .iter()
                        .map(|v| (ObjectKind::FeatureView, &v.name)),
                )
                .chain(
                    file.raw
                        .feature_services
                        .iter()
                        .map(|s| (ObjectKind::FeatureService, &s.name)),
                );
            for (kind, name) in names {
                let location = yaml::location(&file.path, name.span());
                let field = format!("{}[{}].name", section(kind), name.as_str());
                if let Some(reason) = identifier_error(name) {
                    self.push(
                        location.clone(),
                        field.clone(),
                        format!("name `{}` {reason}", name.as_str()),
                    );
                }
                if let Some((first_kind, first)) = self.names.get(name.as_str()) {
                    let message = format!(
                        "duplicate name `{}`: already used by the {} at {first} (names are unique across entities, sources, views and services)",
                        name.as_str(),
                        first_kind.as_str().replace('_', " "),
                    );
                    self.duplicates.insert((file.path.clone(), location.line));
                    self.push(location, field, message);
                } else {
                    self.names.insert(name.to_string(), (kind, location));
                }
            }
        }
    }

    /// Records the object's position; `None` when it is a duplicate already reported.
    fn begin(
        &mut self,
        file: &Path,
        kind: ObjectKind,
        name: &S,
        object_span: &marked_yaml::Span,
    ) -> Option<String> {
        let location = yaml::location(file, name.span());
        if self
            .duplicates
            .contains(&(file.to_path_buf(), location.line))
        {
            return None;
        }
        let path = format!("{}[{}]", section(kind), name.as_str());
        self.locations
            .insert(path.clone(), yaml::location(file, object_span));
        Some(path)
    }

    fn reference_kind(&self, name: &str) -> Option<ObjectKind> {
        self.names.get(name).map(|(kind, _)| *kind)
    }

    fn dtype(&mut self, file: &Path, field: &str, dtype: &S) -> Option<ValueType> {
        match dtype.parse::<ValueType>() {
            Ok(t) => Some(t),
            Err(message) => {
                let location = self.at(file, dtype);
                self.push(location, field, message);
                None
            }
        }
    }

    /// Types the `checks` list under `field` with `parse`; errors name the
    /// check's part (`FIELD.checks[I].value`) at its line.
    fn checks<T>(
        &mut self,
        file: &Path,
        field: &str,
        raw: Option<&[Spanned<RawCheck>]>,
        parse: impl Fn(&CheckText<'_>) -> Result<T, (CheckPart, String)>,
    ) -> Vec<T> {
        let mut typed = Vec::new();
        for (i, check) in raw.unwrap_or_default().iter().enumerate() {
            let text = CheckText {
                check: check.check.as_str(),
                value: check.value.as_ref().map(|v| v.as_str()),
                values: check
                    .values
                    .as_ref()
                    .map(|vs| vs.iter().map(|v| v.as_str()).collect()),
                pattern: check.pattern.as_ref().map(|v| v.as_str()),
                policy: check.policy.as_ref().map(|v| v.as_str()),
            };
            match parse(&text) {
                Ok(check) => typed.push(check),
                Err((part, message)) => {
                    let span = match part {
                        CheckPart::Check => Some(check.check.span()),
                        CheckPart::Value => check.value.as_ref().map(|v| v.span()),
                        CheckPart::Values => check.values.as_ref().map(|v| v.span()),
                        CheckPart::Pattern => check.pattern.as_ref().map(|v| v.span()),
                        CheckPart::Policy => check.policy.as_ref().map(|v| v.span()),
                    };
                    let location = yaml::location(file, span.unwrap_or(check.span()));
                    self.push(
                        location,
                        format!("{field}.checks[{i}].{}", part.field()),
                        message,
                    );
                }
            }
        }
        typed
    }

    fn entity(&mut self, file: &Path, raw: &Spanned<RawEntity>) -> Option<EntitySpec> {
        let path = self.begin(file, ObjectKind::Entity, &raw.name, raw.span())?;
        let before = self.errors.len();
        if raw.join_keys.is_empty() {
            self.push(
                yaml::location(file, raw.join_keys.span()),
                format!("{path}.join_keys"),
                "an entity needs at least one join key",
            );
        }
        let mut seen = HashSet::new();
        let mut join_keys = Vec::new();
        for key in raw.join_keys.iter() {
            let field = format!("{path}.join_keys[{}]", key.name.as_str());
            self.locations
                .insert(field.clone(), yaml::location(file, key.span()));
            if let Some(reason) = identifier_error(&key.name) {
                let location = self.at(file, &key.name);
                self.push(
                    location,
                    format!("{field}.name"),
                    format!("join key `{}` {reason}", key.name.as_str()),
                );
            }
            if !seen.insert(key.name.as_str()) {
                let location = self.at(file, &key.name);
                self.push(
                    location,
                    format!("{field}.name"),
                    format!("duplicate join key `{}`", key.name.as_str()),
                );
            }
            if let Some(dtype) = self.dtype(file, &format!("{field}.dtype"), &key.dtype) {
                if !dtype.is_valid_join_key() {
                    let location = self.at(file, &key.dtype);
                    self.push(
                        location,
                        format!("{field}.dtype"),
                        format!("a join key must be int32, int64, string or bytes, not {dtype}"),
                    );
                }
                join_keys.push(JoinKey {
                    name: key.name.to_string(),
                    dtype,
                });
            }
        }
        (self.errors.len() == before).then(|| EntitySpec {
            name: raw.name.to_string(),
            description: raw.description.clone(),
            join_keys,
            tags: raw.tags.clone(),
        })
    }

    fn source(&mut self, file: &Path, raw: &Spanned<RawSource>) -> Option<SourceSpec> {
        let path = self.begin(file, ObjectKind::Source, &raw.name, raw.span())?;
        let before = self.errors.len();
        let object_location = yaml::location(file, raw.span());
        // Which optional fields each kind takes; anything else set is a mistake.
        let fields: [(&str, &Option<S>); 8] = [
            ("path", &raw.path),
            ("url", &raw.url),
            ("table", &raw.table),
            ("query", &raw.query),
            ("topic", &raw.topic),
            ("bootstrap_servers", &raw.bootstrap_servers),
            ("format", &raw.format),
            ("timestamp_field", &raw.timestamp_field),
        ];
        let allowed: &[&str] = match raw.kind.as_str() {
            "parquet" => &["path", "timestamp_field"],
            "postgres" => &["url", "table", "query", "timestamp_field"],
            "kafka" => &["topic", "bootstrap_servers", "format", "timestamp_field"],
            "push" => &["timestamp_field"],
            other => {
                let location = self.at(file, &raw.kind);
                self.push(
                    location,
                    format!("{path}.kind"),
                    format!(
                        "unknown source kind `{other}` (expected parquet, postgres, kafka or push)"
                    ),
                );
                return None;
            }
        };
        for (name, value) in fields {
            if let Some(value) = value
                && !allowed.contains(&name)
            {
                let location = self.at(file, value);
                self.push(
                    location,
                    format!("{path}.{name}"),
                    format!("`{name}` does not apply to a {} source", raw.kind.as_str()),
                );
            }
        }
        let required = |this: &mut Self, name: &str, value: &Option<S>| -> String {
            match value {
                Some(v) if !v.trim().is_empty() => v.to_string(),
                Some(v) => {
                    let location = this.at(file, v);
                    this.push(
                        location,
                        format!("{path}.{name}"),
                        format!("`{name}` must not be empty"),
                    );
                    String::new()
                }
                None => {
                    this.push(
                        object_location.clone(),
                        format!("{path}.{name}"),
                        format!("a {} source needs `{name}`", raw.kind.as_str()),
                    );
                    String::new()
                }
            }
        };
        let kind = match raw.kind.as_str() {
            "parquet" => SourceKind::Parquet {
                path: required(self, "path", &raw.path),
            },
            "postgres" => {
                let url = required(self, "url", &raw.url);
                let both_or_neither = match (&raw.table, &raw.query) {
                    (Some(_), Some(query)) => Some(self.at(file, query)),
                    (None, None) => Some(object_location.clone()),
                    _ => None,
                };
                if let Some(location) = both_or_neither {
                    self.push(
                        location,
                        format!("{path}.table"),
                        "a postgres source needs exactly one of `table` or `query`",
                    );
                }
                if let Some(table) = &raw.table
                    && (!table.split('.').all(is_identifier) || table.split('.').count() > 2)
                {
                    let location = self.at(file, table);
                    self.push(location, format!("{path}.table"), format!("`{}` is not a table name (write `table` or `schema.table`; use `query` for anything else)", table.as_str()));
                }
                SourceKind::Postgres {
                    url,
                    table: raw.table.as_ref().map(|t| t.to_string()),
                    query: raw.query.as_ref().map(|q| q.to_string()),
                }
            }
            "kafka" => {
                let topic = required(self, "topic", &raw.topic);
                let format = match raw.format.as_ref().map(|f| f.as_str()) {
                    None | Some("json") => MessageFormat::Json,
                    Some(other) => {
                        let location = raw
                            .format
                            .as_ref()
                            .map(|f| self.at(file, f))
                            .unwrap_or_else(|| object_location.clone());
                        self.push(
                            location,
                            format!("{path}.format"),
                            format!("unsupported message format `{other}` (supported: json)"),
                        );
                        MessageFormat::Json
                    }
                };
                SourceKind::Kafka {
                    topic,
                    bootstrap_servers: raw.bootstrap_servers.as_ref().map(|b| b.to_string()),
                    format,
                }
            }
            _ => SourceKind::Push,
        };
        for (name, value) in [
            ("url", &raw.url),
            ("bootstrap_servers", &raw.bootstrap_servers),
        ] {
            if let Some(value) = value
                && let Err(message) = env::check_references(value)
            {
                let location = self.at(file, value);
                self.push(location, format!("{path}.{name}"), message);
            }
        }
        let timestamp_field = match (&kind, &raw.timestamp_field) {
            (SourceKind::Push, None) => "event_timestamp".to_string(),
            _ => required(self, "timestamp_field", &raw.timestamp_field),
        };
        let created_timestamp_field = raw.created_timestamp_field.as_ref().map(|c| c.to_string());
        if let Some(created) = &raw.created_timestamp_field
            && created.as_str() == timestamp_field
        {
            let location = self.at(file, created);
            self.push(
                location,
                format!("{path}.created_timestamp_field"),
                "the created timestamp must be a different column from `timestamp_field`",
            );
        }
        let field_mapping = raw
            .field_mapping
            .as_ref()
            .map(|m| (**m).clone())
            .unwrap_or_default();
        if let Some(mapping) = &raw.field_mapping {
            let mut targets = HashSet::new();
            for (from, to) in mapping.iter() {
                if from.is_empty() || !is_identifier(to) || !targets.insert(to) {
                    self.push(
                        yaml::location(file, mapping.span()),
                        format!("{path}.field_mapping"),
                        format!(
                            "bad mapping `{from}: {to}` (targets must be distinct identifiers)"
                        ),
                    );
                }
            }
        }
        (self.errors.len() == before).then(|| SourceSpec {
            name: raw.name.to_string(),
            kind,
            timestamp_field,
            created_timestamp_field,
            field_mapping,
            description: raw.description.clone(),
            tags: raw.tags.clone(),
        })
    }

    fn feature_view(
        &mut self,
        file: &Path,
        raw: &Spanned<RawFeatureView>,
        repo: &RepoSpec,
    ) -> Option<FeatureViewSpec> {
        let path = self.begin(file, ObjectKind::FeatureView, &raw.name, raw.span())?;
        let before = self.errors.len();

        if raw.entities.is_empty() {
            self.push(
                yaml::location(file, raw.entities.span()),
                format!("{path}.entities"),
                "a feature view needs at least one entity",
            );
        }
        let mut seen = HashSet::new();
        let mut key_names: HashMap<String, String> = HashMap::new();
        for entity in raw.entities.iter() {
            let location = self.at(file, entity);
            let field = format!("{path}.entities");
            if !seen.insert(entity.as_str()) {
                self.push(
                    location,
                    field,
                    format!("entity `{}` is listed twice", entity.as_str()),
                );
                continue;
            }
            match self.reference_kind(entity) {
                Some(ObjectKind::Entity) => {
                    for key in repo
                        .entity(entity)
                        .map(|e| e.join_keys.clone())
                        .unwrap_or_default()
                    {
                        if let Some(other) = key_names.insert(key.name.clone(), entity.to_string())
                        {
                            self.push(location.clone(), field.clone(), format!("join key `{}` is used by both entity `{other}` and entity `{}`", key.name, entity.as_str()));
                        }
                    }
                }
                Some(kind) => self.push(
                    location,
                    field,
                    format!(
                        "`{}` is a {}, not an entity",
                        entity.as_str(),
                        kind.as_str().replace('_', " ")
                    ),
                ),
                None => self.push(
                    location,
                    field,
                    format!(
                        "unknown entity `{}`{}",
                        entity.as_str(),
                        self.suggest(entity, ObjectKind::Entity)
                    ),
                ),
            }
        }

        let source = self.source_reference(file, &path, "source", &raw.source, repo, true);
        if let Some(stream) = &raw.stream_source {
            self.source_reference(file, &path, "stream_source", stream, repo, false);
        }

        let ttl = raw.ttl.as_ref().and_then(|ttl| match parse_ttl(ttl) {
            Ok(d) => Some(d),
            Err(message) => {
                let location = self.at(file, ttl);
                self.push(location, format!("{path}.ttl"), message);
                None
            }
        });

        if raw.features.is_empty() {
            self.push(
                yaml::location(file, raw.features.span()),
                format!("{path}.features"),
                "a feature view needs at least one feature",
            );
        }
        let reserved: Vec<&str> = source
            .iter()
            .flat_map(|s| {
                std::iter::once(s.timestamp_field.as_str())
                    .chain(s.created_timestamp_field.as_deref())
            })
            .collect();
        let mut names = HashSet::new();
        let mut features = Vec::new();
        for feature in raw.features.iter() {
            let field = format!("{path}.features[{}]", feature.name.as_str());
            self.locations
                .insert(field.clone(), yaml::location(file, feature.span()));
            let location = self.at(file, &feature.name);
            if let Some(reason) = identifier_error(&feature.name) {
                self.push(
                    location.clone(),
                    format!("{field}.name"),
                    format!("feature name `{}` {reason}", feature.name.as_str()),
                );
            }
            if !names.insert(feature.name.as_str()) {
                self.push(
                    location.clone(),
                    format!("{field}.name"),
                    format!("duplicate feature `{}`", feature.name.as_str()),
                );
            }
            if key_names.contains_key(feature.name.as_str()) {
                self.push(
                    location.clone(),
                    format!("{field}.name"),
                    format!(
                        "feature `{}` has the name of a join key",
                        feature.name.as_str()
                    ),
                );
            } else if let Some(entity) = repo
                .entities
                .iter()
                .find(|e| e.join_keys.iter().any(|k| k.name == feature.name.as_str()))
            {
                // Views are asked for together: the online answer (and the
                // entity frame of a training set) holds every requested
                // view's join keys beside the features.
                self.push(
                    location.clone(),
                    format!("{field}.name"),
                    format!(
                        "feature `{0}` has the name of a join key of entity `{1}`: asked for with a view of `{1}`, an online answer would have two `{0}` columns (rename the feature)",
                        feature.name.as_str(),
                        entity.name
                    ),
                );
            }
            if reserved.contains(&feature.name.as_str()) {
                self.push(
                    location,
                    format!("{field}.name"),
                    format!(
                        "feature `{}` has the name of a timestamp column of its source",
                        feature.name.as_str()
                    ),
                );
            }
            if let Some(dtype) = self.dtype(file, &format!("{field}.dtype"), &feature.dtype) {
                let checks = self.checks(file, &field, feature.checks.as_deref(), |text| {
                    checks::feature_check(text, dtype)
                });
                features.push(FeatureSpec {
                    name: feature.name.to_string(),
                    dtype,
                    description: feature.description.clone(),
                    checks,
                });
            }
        }
        let view_checks = self.checks(file, &path, raw.checks.as_deref(), checks::view_check);
        let drift = raw.drift.as_ref().map(|raw| {
            let mut threshold = |name: &str, text: &Option<S>| {
                let text = text.as_ref()?;
                match checks::drift_threshold(name, text) {
                    Ok(value) => Some(value),
                    Err(message) => {
                        let location = self.at(file, text);
                        self.push(location, format!("{path}.drift.{name}"), message);
                        None
                    }
                }
            };
            DriftSpec {
                psi: threshold("psi", &raw.psi),
                ks: threshold("ks", &raw.ks),
                chi_square_p: threshold("chi_square_p", &raw.chi_square_p),
            }
        });

        (self.errors.len() == before).then(|| FeatureViewSpec {
            name: raw.name.to_string(),
            entities: raw.entities.iter().map(|e| e.to_string()).collect(),
            source: raw.source.to_string(),
            stream_source: raw.stream_source.as_ref().map(|s| s.to_string()),
            ttl,
            online: raw.online.unwrap_or(true),
            features,
            checks: view_checks,
            drift,
            description: raw.description.clone(),
            tags: raw.tags.clone(),
        })
    }

    /// Checks a view's `source` (batch) or `stream_source` (kafka or push) reference.
    fn source_reference<'r>(
        &mut self,
        file: &Path,
        path: &str,
        field: &str,
        name: &S,
        repo: &'r RepoSpec,
        batch: bool,
    ) -> Option<&'r SourceSpec> {
        let location = self.at(file, name);
        let field = format!("{path}.{field}");
        match self.reference_kind(name) {
            Some(ObjectKind::Source) => {
                let spec = repo.source(name)?;
                if spec.kind.is_batch() != batch {
                    let wanted = if batch {
                        "a batch source (parquet or postgres)"
                    } else {
                        "a stream source (kafka or push)"
                    };
                    self.push(
                        location,
                        field,
                        format!(
                            "`{}` is a {} source; expected {wanted}",
                            name.as_str(),
                            spec.kind.name()
                        ),
                    );
                    return None;
                }
                Some(spec)
            }
            Some(kind) => {
                self.push(
                    location,
                    field,
                    format!(
                        "`{}` is a {}, not a source",
                        name.as_str(),
                        kind.as_str().replace('_', " ")
                    ),
                );
                None
            }
            None => {
                let hint = self.suggest(name, ObjectKind::Source);
                self.push(
                    location,
                    field,
                    format!("unknown source `{}`{hint}", name.as_str()),
                );
                None
            }
        }
    }

    fn feature_service(
        &mut self,
        file: &Path,
        raw: &Spanned<RawFeatureService>,
        repo: &RepoSpec,
    ) -> Option<FeatureServiceSpec> {
        let path = self.begin(file, ObjectKind::FeatureService, &raw.name, raw.span())?;
        let before = self.errors.len();
        if raw.features.is_empty() {
            self.push(
                yaml::location(file, raw.features.span()),
                format!("{path}.features"),
                "a feature service needs at least one feature",
            );
        }
        let mut seen = HashSet::new();
        for reference in raw.features.iter() {
            let location = self.at(file, reference);
            let field = format!("{path}.features");
            if !seen.insert(reference.as_str()) {
                self.push(
                    location,
                    field,
                    format!("`{}` is listed twice", reference.as_str()),
                );
                continue;
            }
            let (view_name, feature) = match reference.split_once(':') {
                Some((v, f)) => (v, Some(f)),
                None => (reference.as_str(), None),
            };
            match self.reference_kind(view_name) {
                Some(ObjectKind::FeatureView) => {
                    if let (Some(view), Some(feature)) = (repo.feature_view(view_name), feature)
                        && view.feature(feature).is_none()
                    {
                        let known: Vec<&str> =
                            view.features.iter().map(|f| f.name.as_str()).collect();
                        self.push(location, field, format!("feature view `{view_name}` has no feature `{feature}` (it has: {})", known.join(", ")));
                    }
                }
                Some(kind) => self.push(
                    location,
                    field,
                    format!(
                        "`{view_name}` is a {}, not a feature view",
                        kind.as_str().replace('_', " ")
                    ),
                ),
                None => {
                    let hint = self.suggest(view_name, ObjectKind::FeatureView);
                    self.push(location, field, format!("unknown feature view `{view_name}` in `{}` (write `view:feature` or `view`){hint}", reference.as_str()));
                }
            }
        }
        (self.errors.len() == before).then(|| FeatureServiceSpec {
            name: raw.name.to_string(),
            features: raw.features.iter().map(|f| f.to_string()).collect(),
            description: raw.description.clone(),
            tags: raw.tags.clone(),
        })
    }

    /// A "did you mean" hint: the closest defined name of the same kind.
    fn suggest(&self, name: &str, kind: ObjectKind) -> String {
        self.names
            .iter()
            .filter(|(_, (k, _))| *k == kind)
            .map(|(candidate, _)| (edit_distance(name, candidate), candidate))
            .filter(|(d, candidate)| *d <= 2.max(candidate.len() / 3))
            .min()
            .map(|(_, candidate)| format!(" (did you mean `{candidate}`?)"))
            .unwrap_or_default()
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}
