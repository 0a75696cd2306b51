-- Who runs a materialization, and when it last said it is still running: a run
-- whose process was killed is then marked `interrupted` instead of staying
-- `running` forever.
ALTER TABLE materialization_runs ADD COLUMN owner TEXT;
ALTER TABLE materialization_runs ADD COLUMN heartbeat_at TEXT;
