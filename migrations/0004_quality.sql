-- Data quality: what each run's checks counted, and the statistics of each
-- feature over each materialized window.
ALTER TABLE materialization_runs ADD COLUMN checks TEXT;

CREATE TABLE feature_statistics (
    run_id          TEXT NOT NULL,
    project         TEXT NOT NULL,
    view            TEXT NOT NULL,
    feature         TEXT NOT NULL,
    window_start_us BIGINT NOT NULL,
    window_end_us   BIGINT NOT NULL,
    -- JSON: the summary (count, nulls, min, max, mean, stddev, distinct,
    -- quantiles, histogram, categories and the quantile sketch)
    stats           TEXT NOT NULL,
    computed_at     TEXT NOT NULL,
    PRIMARY KEY (run_id, feature)
);
CREATE INDEX feature_statistics_by_view ON feature_statistics (project, view, window_end_us);
