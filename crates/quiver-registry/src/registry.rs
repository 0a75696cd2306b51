//! The registry store on sqlx's `Any` driver: one implementation for SQLite and Postgres.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use quiver_core::{ChangeKind, ObjectKind, RegistryObject, diff_objects};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Executor, Row};

use crate::error::{RegistryError, Result};
use crate::location::{Backend, RegistryLocation};
use crate::model::{ApplyOutcome, ObjectVersion, RegistryVersion, StoredObject};

/// One schema serves both databases: it uses only types and syntax they share.
/// (Split into one directory per flavour the day their SQL has to differ.)
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// How long to wait for a connection: an unreachable registry is reported after this.
/// (Waiting for another apply's lock happens inside a connection: SQLite's busy
/// timeout, Postgres's row lock.)
const CONNECT_WAIT: Duration = Duration::from_secs(5);

/// A connection to the registry database, migrated to the current schema.
#[derive(Debug, Clone)]
pub struct Registry {
    pool: AnyPool,
    location: RegistryLocation,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl Registry {
    /// Opens (and creates or migrates) the registry named by `url`.
    pub async fn connect(url: &str, base_dir: &Path) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let location = RegistryLocation::resolve(url, base_dir)?;
        let unavailable = |source| RegistryError::Unavailable {
            url: location.display.clone(),
            source,
        };
        let sqlite = location.backend == Backend::Sqlite;
        let in_memory = location.connect_url.contains(":memory:");
        let pool = AnyPoolOptions::new()
            // Each in-memory SQLite connection is its own database: keep exactly one.
            .max_connections(if in_memory { 1 } else { 4 })
            .acquire_timeout(CONNECT_WAIT)
            .after_connect(move |conn: &mut AnyConnection, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers run beside an apply; the busy timeout makes a
                        // second writer wait for the first instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    } else {
                        // No registry statement (a lock wait included) hangs a
                        // command or a request for ever.
                        conn.execute("SET statement_timeout = '30s'").await?;
                    }
                    Ok(())
                })
            })
            .connect(&location.connect_url)
            .await
            .map_err(unavailable)?;
        MIGRATIONS
            .run(&pool)
            .await
            .map_err(|source| RegistryError::Migrate {
                url: location.display.clone(),
                source,
            })?;
        Ok(Self { pool, location })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The registry's URL with any password hidden.
    pub fn display_url(&self) -> &str {
        &self.location.display
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    /// The project's registry version (0 before the first apply).
    pub async fn version(&self, project: &str) -> Result<i64> {
        let row = sqlx::query("SELECT version FROM projects WHERE name = $1")
            .bind(project)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .unwrap_or(0))
    }

    /// The current definitions of a project, optionally of one kind.
    pub async fn objects(
        &self,
        project: &str,
        kind: Option<ObjectKind>,
    ) -> Result<Vec<StoredObject>> {
        let rows = sqlx::query(
            "SELECT kind, name, version, hash, spec, registry_version, updated_at FROM objects \
             WHERE project = $1 ORDER BY kind, name",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        let mut objects = rows.iter().map(stored_object).collect::<Result<Vec<_>>>()?;
        objects.retain(|o| kind.is_none_or(|k| o.object.kind == k));
        objects
            .sort_by(|a, b| (a.object.kind, &a.object.name).cmp(&(b.object.kind, &b.object.name)));
        Ok(objects)
    }

    /// What `apply` would change, without writing anything.
    pub async fn plan(&self, project: &str, desired: &[RegistryObject]) -> Result<ApplyOutcome> {
        let version = self.version(project).await?;
        let current: Vec<RegistryObject> = self
            .objects(project, None)
            .await?
            .into_iter()
            .map(|o| o.object)
            .collect();
        Ok(ApplyOutcome {
            project: project.to_string(),
            from_version: version,
            to_version: version,
            changes: diff_objects(&current, desired),
        })
    }

    /// Makes `desired` the project's definitions, in one transaction. Concurrent
    /// applies are serialized by a lock on the project row: each one sees the
    /// state the previous one committed, so the registry never mixes two applies.
    pub async fn apply(
        &self,
        project: &str,
        desired: &[RegistryObject],
        applied_by: &str,
    ) -> Result<ApplyOutcome> {
        self.write(project, desired, applied_by, "apply").await
    }

    /// Removes every definition of the project (their history is kept).
    pub async fn teardown(&self, project: &str, applied_by: &str) -> Result<ApplyOutcome> {
        self.write(project, &[], applied_by, "teardown").await
    }

    async fn write(
        &self,
        project: &str,
        desired: &[RegistryObject],
        applied_by: &str,
        operation: &str,
    ) -> Result<ApplyOutcome> {
        let at = now();
        let mut tx = self.pool.begin().await?;
        // Write first: this takes SQLite's write lock or Postgres's row lock before
        // anything is read, so the diff below is against the latest committed state.
        sqlx::query("INSERT INTO projects (name, version, updated_at) VALUES ($1, 0, $2) ON CONFLICT (name) DO NOTHING")
            .bind(project)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE projects SET updated_at = updated_at WHERE name = $1")
            .bind(project)
            .execute(&mut *tx)
            .await?;
        let from_version: i64 = sqlx::query("SELECT version FROM projects WHERE name = $1")
            .bind(project)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let rows = sqlx::query("SELECT kind, name, version, hash, spec, registry_version, updated_at FROM objects WHERE project = $1")
            .bind(project)
            .fetch_all(&mut *tx)
            .await?;
        let current = rows.iter().map(stored_object).collect::<Result<Vec<_>>>()?;
        let current_objects: Vec<RegistryObject> =
            current.iter().map(|o| o.object.clone()).collect();
        let changes = diff_objects(&current_objects, desired);
        if changes.is_empty() {
            tx.rollback().await?;
            return Ok(ApplyOutcome {
                project: project.into(),
                from_version,
                to_version: from_version,
                changes,
            });
        }

        let to_version = from_version + 1;
        for change in &changes {
            let kind = change.kind.as_str();
            let last_version: i64 = sqlx::query(
                "SELECT COALESCE(MAX(version), 0) FROM object_versions WHERE project = $1 AND kind = $2 AND name = $3",
            )
            .bind(project)
            .bind(kind)
            .bind(&change.name)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            let version = last_version + 1;
            let new = desired
                .iter()
                .find(|o| o.kind == change.kind && o.name == change.name);
            let (hash, spec) = match new {
                Some(o) => (Some(o.hash.clone()), Some(serde_json::to_string(&o.spec)?)),
                None => (None, None),
            };
            let field_changes = match change.change {
                ChangeKind::Changed => Some(serde_json::to_string(&change.fields)?),
                _ => None,
            };
            match change.change {
                ChangeKind::Added | ChangeKind::Changed => {
                    sqlx::query(
                        "INSERT INTO objects (project, kind, name, version, hash, spec, registry_version, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (project, kind, name) DO UPDATE SET version = excluded.version, \
                         hash = excluded.hash, spec = excluded.spec, \
                         registry_version = excluded.registry_version, updated_at = excluded.updated_at",
                    )
                    .bind(project)
                    .bind(kind)
                    .bind(&change.name)
                    .bind(version)
                    .bind(&hash)
                    .bind(&spec)
                    .bind(to_version)
                    .bind(&at)
                    .execute(&mut *tx)
                    .await?;
                }
                ChangeKind::Removed => {
                    sqlx::query(
                        "DELETE FROM objects WHERE project = $1 AND kind = $2 AND name = $3",
                    )
                    .bind(project)
                    .bind(kind)
                    .bind(&change.name)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query(
                "INSERT INTO object_versions (project, kind, name, version, change, hash, spec, field_changes, \
                 registry_version, applied_by, applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(project)
            .bind(kind)
            .bind(&change.name)
            .bind(version)
            .bind(change.change.as_str())
            .bind(&hash)
            .bind(&spec)
            .bind(&field_changes)
            .bind(to_version)
            .bind(applied_by)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        let count = |kind: ChangeKind| changes.iter().filter(|c| c.change == kind).count() as i64;
        sqlx::query(
            "INSERT INTO registry_versions (project, version, operation, applied_by, applied_at, added, changed, removed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(project)
        .bind(to_version)
        .bind(operation)
        .bind(applied_by)
        .bind(&at)
        .bind(count(ChangeKind::Added))
        .bind(count(ChangeKind::Changed))
        .bind(count(ChangeKind::Removed))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE projects SET version = $2, updated_at = $3 WHERE name = $1")
            .bind(project)
            .bind(to_version)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ApplyOutcome {
            project: project.into(),
            from_version,
            to_version,
            changes,
        })
    }

    /// Every version of one object, oldest first.
    pub async fn history(
        &self,
        project: &str,
        kind: ObjectKind,
        name: &str,
    ) -> Result<Vec<ObjectVersion>> {
        let rows = sqlx::query(
            "SELECT version, change, hash, spec, field_changes, registry_version, applied_by, applied_at \
             FROM object_versions WHERE project = $1 AND kind = $2 AND name = $3 ORDER BY version",
        )
        .bind(project)
        .bind(kind.as_str())
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ObjectVersion {
                    version: r.try_get("version")?,
                    change: r.try_get("change")?,
                    hash: r.try_get("hash")?,
                    spec: parse_json(r.try_get("spec")?, "object spec")?,
                    field_changes: parse_json(r.try_get("field_changes")?, "field change list")?,
                    registry_version: r.try_get("registry_version")?,
                    applied_by: r.try_get("applied_by")?,
                    applied_at: r.try_get("applied_at")?,
                })
            })
            .collect()
    }

    /// The log of applies and teardowns, oldest first.
    pub async fn versions(&self, project: &str) -> Result<Vec<RegistryVersion>> {
        let rows = sqlx::query(
            "SELECT version, operation, applied_by, applied_at, added, changed, removed \
             FROM registry_versions WHERE project = $1 ORDER BY version",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RegistryVersion {
                    version: r.try_get("version")?,
                    operation: r.try_get("operation")?,
                    applied_by: r.try_get("applied_by")?,
                    applied_at: r.try_get("applied_at")?,
                    added: r.try_get("added")?,
                    changed: r.try_get("changed")?,
                    removed: r.try_get("removed")?,
                })
            })
            .collect()
    }

    /// The definitions as they were at registry version `version`, rebuilt from the
    /// history (what a training set built at that version read).
    pub async fn snapshot(&self, project: &str, version: i64) -> Result<Vec<RegistryObject>> {
        let rows = sqlx::query(
            "SELECT v.kind, v.name, v.hash, v.spec FROM object_versions v \
             WHERE v.project = $1 AND v.registry_version <= $2 AND v.version = ( \
               SELECT MAX(w.version) FROM object_versions w \
               WHERE w.project = v.project AND w.kind = v.kind AND w.name = v.name AND w.registry_version <= $2) \
             AND v.change <> 'removed' ORDER BY v.kind, v.name",
        )
        .bind(project)
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        let mut objects = rows
            .iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let spec: Option<String> = r.try_get("spec")?;
                Ok(RegistryObject {
                    kind: parse_kind(&kind)?,
                    name: r.try_get("name")?,
                    hash: r.try_get::<Option<String>, _>("hash")?.unwrap_or_default(),
                    spec: parse_json(spec, "object spec")?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        objects.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ok(objects)
    }
}

fn parse_kind(kind: &str) -> Result<ObjectKind> {
    ObjectKind::from_str(kind).map_err(|detail| RegistryError::Corrupt {
        what: "object kind".into(),
        detail,
    })
}

fn parse_json(text: Option<String>, what: &str) -> Result<Option<serde_json::Value>> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| RegistryError::Corrupt {
            what: what.into(),
            detail: e.to_string(),
        })
}

fn stored_object(row: &AnyRow) -> Result<StoredObject> {
    let kind: String = row.try_get("kind")?;
    let spec: String = row.try_get("spec")?;
    Ok(StoredObject {
        object: RegistryObject {
            kind: parse_kind(&kind)?,
            name: row.try_get("name")?,
            hash: row.try_get("hash")?,
            spec: parse_json(Some(spec), "object spec")?.unwrap_or_default(),
        },
        version: row.try_get("version")?,
        registry_version: row.try_get("registry_version")?,
        updated_at: row.try_get("updated_at")?,
    })
}
