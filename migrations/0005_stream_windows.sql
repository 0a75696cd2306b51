-- Streamed rows (the Kafka ingest, push) are summarized per window of ingest
-- time and per process: the rows it took in, what the checks counted, and,
-- in feature_statistics under the window's id, each feature's statistics.
CREATE TABLE stream_windows (
    id              TEXT PRIMARY KEY,
    project         TEXT NOT NULL,
    view            TEXT NOT NULL,
    -- kafka | push
    path            TEXT NOT NULL,
    -- host:pid of the process that took the rows in
    writer          TEXT NOT NULL,
    window_start_us BIGINT NOT NULL,
    window_end_us   BIGINT NOT NULL,
    rows_ingested   BIGINT NOT NULL,
    -- JSON: [{check, policy, violations}]
    checks          TEXT NOT NULL,
    recorded_at     TEXT NOT NULL
);
CREATE INDEX stream_windows_by_view ON stream_windows (project, view, path, window_end_us);
