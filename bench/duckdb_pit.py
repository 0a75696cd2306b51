#!/usr/bin/env python3
"""The benchmark's reference: the same point-in-time join in DuckDB.

Reads the SAME source Parquet file quiver's feature view reads (the generator's
driver_stats.parquet, not quiver's offline store) and the entity frame, and writes
the training set to Parquet, ordered by row_id. The semantics are quiver's
contract (Feast's):

  for entity row (driver_id, t): among feature rows with the same driver_id and
  t - ttl <= event_timestamp <= t, the one with the greatest event_timestamp,
  ties to the greatest `created`; none -> nulls; a null value in the chosen row
  stays null; every entity row comes back once, with its extra columns.

ASOF JOIN picks the greatest event_timestamp <= t but does not break ties on
`created`, so the feature table is first reduced to the row with the greatest
`created` per (driver_id, event_timestamp); the TTL is applied afterwards by
nulling the features when the chosen row is older than t - ttl (the chosen row is
the newest one <= t, so if it is too old every candidate is). Both steps are part
of the semantics and run inside the timed statement.

The timed part is the one SQL statement (reading both Parquet files, the join,
writing the result Parquet); Python and DuckDB start-up are not in it.

Prints `duckdb_seconds: S` and `rows: N` on stdout.
"""
import argparse
import time

import duckdb


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="feature source Parquet (driver_stats.parquet)")
    ap.add_argument("--entities", required=True, help="entity frame Parquet (driver_id, event_timestamp, row_id)")
    ap.add_argument("--out", required=True, help="result Parquet")
    ap.add_argument("--ttl-seconds", type=int, default=2 * 24 * 3600, help="the view's TTL (default 2d)")
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: DuckDB's own, all cores)")
    ap.add_argument("--explain", action="store_true", help="print the query plan and exit")
    args = ap.parse_args()

    con = duckdb.connect()
    # TIMESTAMPTZ arithmetic follows the session time zone (DST would make
    # "2 days" 47 or 49 hours); the TTL is a fixed duration, so work in UTC and
    # subtract it in seconds.
    con.execute("SET TimeZone = 'UTC'")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")

    query = f"""
        WITH f AS (
            SELECT driver_id, event_timestamp, conv_rate, acc_rate, avg_daily_trips
            FROM read_parquet({sql_str(args.features)})
            QUALIFY row_number() OVER (
                PARTITION BY driver_id, event_timestamp ORDER BY created DESC) = 1
        ),
        e AS (
            SELECT * FROM read_parquet({sql_str(args.entities)})
        ),
        j AS (
            SELECT e.*,
                   f.event_timestamp >= e.event_timestamp - INTERVAL ({int(args.ttl_seconds)}) SECOND
                       AS in_ttl,
                   f.conv_rate, f.acc_rate, f.avg_daily_trips
            FROM e ASOF LEFT JOIN f
              ON e.driver_id = f.driver_id AND f.event_timestamp <= e.event_timestamp
        )
        SELECT * EXCLUDE (in_ttl, conv_rate, acc_rate, avg_daily_trips),
               CASE WHEN in_ttl THEN conv_rate END AS conv_rate,
               CASE WHEN in_ttl THEN acc_rate END AS acc_rate,
               CASE WHEN in_ttl THEN avg_daily_trips END AS avg_daily_trips
        FROM j
        ORDER BY row_id
    """
    if args.explain:
        print(con.sql("EXPLAIN " + query).fetchall()[0][1])
        return

    start = time.perf_counter()
    con.execute(f"COPY ({query}) TO {sql_str(args.out)} (FORMAT parquet)")
    seconds = time.perf_counter() - start

    rows = con.execute(f"SELECT count(*) FROM read_parquet({sql_str(args.out)})").fetchone()[0]
    print(f"duckdb_seconds: {seconds:.6f}")
    print(f"rows: {rows}")
    print(f"duckdb_version: {duckdb.__version__}")


if __name__ == "__main__":
    main()
