-- Lineage: every materialization run and every saved training set.

CREATE TABLE materialization_runs (
    id               TEXT PRIMARY KEY,
    project          TEXT NOT NULL,
    view             TEXT NOT NULL,
    -- offline | online
    target           TEXT NOT NULL,
    window_start_us  BIGINT NOT NULL,
    window_end_us    BIGINT NOT NULL,
    registry_version BIGINT NOT NULL,
    -- running | succeeded | failed (a run killed midway stays `running`)
    status           TEXT NOT NULL,
    rows_read        BIGINT,
    rows_written     BIGINT,
    duration_ms      BIGINT,
    error            TEXT,
    started_at       TEXT NOT NULL,
    finished_at      TEXT
);
CREATE INDEX materialization_runs_by_view ON materialization_runs (project, view, target, status);

CREATE TABLE saved_datasets (
    project          TEXT NOT NULL,
    name             TEXT NOT NULL,
    registry_version BIGINT NOT NULL,
    -- JSON: the request (features, full_feature_names, as_of_known_time)
    request          TEXT NOT NULL,
    -- JSON: per view, the offline-store files read (path, bytes, modified)
    offline_snapshot TEXT NOT NULL,
    row_count        BIGINT NOT NULL,
    path             TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (project, name)
);
