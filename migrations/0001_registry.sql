-- The registry: applied definitions, their versions and who changed what when.

-- One row per project; `version` counts the applies that changed something.
CREATE TABLE projects (
    name       TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The current definitions: one row per object.
CREATE TABLE objects (
    project          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    name             TEXT NOT NULL,
    version          BIGINT NOT NULL,
    hash             TEXT NOT NULL,
    spec             TEXT NOT NULL,
    registry_version BIGINT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (project, kind, name)
);

-- Every version of every object ever applied; a removal is a version without a spec.
CREATE TABLE object_versions (
    project          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    name             TEXT NOT NULL,
    version          BIGINT NOT NULL,
    change           TEXT NOT NULL,
    hash             TEXT,
    spec             TEXT,
    field_changes    TEXT,
    registry_version BIGINT NOT NULL,
    applied_by       TEXT NOT NULL,
    applied_at       TEXT NOT NULL,
    PRIMARY KEY (project, kind, name, version)
);
CREATE INDEX object_versions_by_registry_version ON object_versions (project, registry_version);

-- One row per apply or teardown that changed the registry.
CREATE TABLE registry_versions (
    project    TEXT NOT NULL,
    version    BIGINT NOT NULL,
    operation  TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    added      BIGINT NOT NULL,
    changed    BIGINT NOT NULL,
    removed    BIGINT NOT NULL,
    PRIMARY KEY (project, version)
);
