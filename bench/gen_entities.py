#!/usr/bin/env python3
"""Write a deterministic entity frame for the point-in-time join benchmark.

The frame is derived from the feature file (its driver ids and event-time range),
so it always matches the data it is joined against:

  driver_id        int64, uniform over the feature file's driver ids; about 5% of
                   the rows use ids that are not in the feature file (no match)
  event_timestamp  timestamp[us, UTC]:
                     80%  uniform over [first event, last event] (microseconds)
                      5%  exactly on an hourly event time (the `event_ts <= t` edge)
                      5%  before the first event, up to 1 day before (no match)
                      5%  after the last event, up to 3 days after (TTL 2d: some
                          rows inside it, some outside)
                      5%  on the TTL edge: last event + 2d exactly (the
                          `t - ttl <= event_ts` edge, still a match) or that + 1 µs
                          (just outside the TTL, no match)
  row_id           int64, 0..rows-1 in file order

Duplicate (driver_id, event_timestamp) rows occur naturally and are kept: the
contract returns duplicate entity rows duplicated.

Usage: gen_entities.py --features driver_stats.parquet --rows N --seed S --out entities.parquet
       [--print-window]
"""
import argparse
import datetime as dt
import random
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
TTL_US = 2 * US_PER_DAY  # driver_hourly_stats: ttl 2d


def feature_ranges(path):
    t = pq.read_table(path, columns=["driver_id", "event_timestamp"])
    ids = pc.min_max(t["driver_id"]).as_py()
    ts = pc.min_max(t["event_timestamp"].cast(pa.int64())).as_py()
    return ids["min"], ids["max"], ts["min"], ts["max"], t.num_rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="the feature Parquet file (driver_stats.parquet)")
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", required=True)
    ap.add_argument("--print-window", action="store_true",
                    help="also print on stdout `START END FEATURE_ROWS`: a materialization window "
                         "(RFC 3339, END exclusive) covering every event time in the feature file, "
                         "and the feature file's row count")
    args = ap.parse_args()

    id_min, id_max, ts_min, ts_max, feature_rows = feature_ranges(args.features)
    n_ids = id_max - id_min + 1
    rng = random.Random(args.seed)
    hours = (ts_max - ts_min) // US_PER_HOUR + 1

    driver_ids = [0] * args.rows
    times = [0] * args.rows
    for i in range(args.rows):
        if rng.random() < 0.05:
            # unknown id: above the known range (or, now and then, below it)
            if rng.random() < 0.8:
                driver_ids[i] = id_max + 1 + rng.randrange(n_ids)
            else:
                driver_ids[i] = rng.randrange(1, max(id_min, 2))
        else:
            driver_ids[i] = id_min + rng.randrange(n_ids)

        r = rng.random()
        if r < 0.80:
            times[i] = ts_min + rng.randrange(ts_max - ts_min + 1)
        elif r < 0.85:
            times[i] = ts_min + rng.randrange(hours) * US_PER_HOUR
        elif r < 0.90:
            times[i] = ts_min - 1 - rng.randrange(US_PER_DAY)
        elif r < 0.95:
            times[i] = ts_max + 1 + rng.randrange(3 * US_PER_DAY)
        else:
            times[i] = ts_max + TTL_US + (1 if rng.random() < 0.5 else 0)

    table = pa.table(
        {
            "driver_id": pa.array(driver_ids, pa.int64()),
            "event_timestamp": pa.array(times, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "row_id": pa.array(range(args.rows), pa.int64()),
        }
    )
    pq.write_table(table, args.out)

    if args.print_window:
        def rfc3339(seconds):
            d = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds)
            return d.strftime("%Y-%m-%dT%H:%M:%SZ")
        # whole seconds: floor(first event) .. floor(last event) + 1 s (exclusive)
        print(rfc3339(ts_min // 1_000_000), rfc3339(ts_max // 1_000_000 + 1), feature_rows)
    print(f"wrote {args.rows} entity rows to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
