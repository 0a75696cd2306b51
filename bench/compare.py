#!/usr/bin/env python3
"""Compare quiver's training set with DuckDB's, exactly.

Both outputs are sorted by row_id; the three feature columns must be equal value
for value (float32 compared exactly, null equals null and nothing else), and both
must hold the same row_ids with the same entity columns.

With --entities, also checks quiver's contract that every entity row comes back
once, in the input order, with its columns untouched (reported on its own line:
`quiver input order kept: yes|no`).

Prints `identical: yes`, or `identical: no` with the count and the first few
mismatching rows. Exit status 0 either way (1 only on a usage or read error), so
the caller can print its summary; pass --strict to exit 2 on a difference.
"""
import argparse
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
KEYS = ["driver_id", "event_timestamp"]


def mismatch_mask(a, b):
    """Boolean array: True where a and b differ (nulls equal only to nulls; NaN equals NaN)."""
    if a.type != b.type:
        common = pa.float64() if pa.types.is_floating(a.type) or pa.types.is_floating(b.type) else a.type
        a, b = a.cast(common), b.cast(common)
    a_null, b_null = pc.is_null(a), pc.is_null(b)
    differ = pc.fill_null(pc.not_equal(a, b), False)
    if pa.types.is_floating(a.type):
        both_nan = pc.and_(pc.fill_null(pc.is_nan(a), False), pc.fill_null(pc.is_nan(b), False))
        differ = pc.and_(differ, pc.invert(both_nan))
    return pc.or_(pc.not_equal(a_null, b_null), differ)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("quiver", help="quiver's output Parquet")
    ap.add_argument("duckdb", help="DuckDB's output Parquet")
    ap.add_argument("--entities", help="the entity frame, to check quiver's row order and entity columns")
    ap.add_argument("--show", type=int, default=10, help="mismatching rows to print (default 10)")
    ap.add_argument("--strict", action="store_true", help="exit 2 when the answers differ")
    args = ap.parse_args()

    q = pq.read_table(args.quiver)
    d = pq.read_table(args.duckdb)
    problems = []

    for name, t in (("quiver", q), ("duckdb", d)):
        missing = [c for c in ["row_id", *KEYS, *FEATURES] if c not in t.column_names]
        if missing:
            print(f"error: {name} output lacks columns {missing} (has {t.column_names})", file=sys.stderr)
            sys.exit(1)
    for c in FEATURES:
        if q[c].type != d[c].type:
            print(f"note: column {c}: quiver {q[c].type}, duckdb {d[c].type} (compared after a lossless cast)")

    # quiver's own contract against its input
    if args.entities:
        e = pq.read_table(args.entities)
        order_ok = q.num_rows == e.num_rows and all(
            q[c].combine_chunks().equals(e[c].combine_chunks()) for c in ["row_id", *KEYS]
        )
        print(f"quiver input order kept: {'yes' if order_ok else 'no'}")
        if not order_ok:
            problems.append("quiver did not return the entity rows once each, in input order, untouched")

    if q.num_rows != d.num_rows:
        problems.append(f"row counts differ: quiver {q.num_rows}, duckdb {d.num_rows}")

    q = q.sort_by([("row_id", "ascending")])
    d = d.sort_by([("row_id", "ascending")])
    n = min(q.num_rows, d.num_rows)
    q, d = q.slice(0, n), d.slice(0, n)

    if not q["row_id"].combine_chunks().equals(d["row_id"].combine_chunks()):
        problems.append("the two outputs do not hold the same row_ids")
        bad = None
    else:
        bad = pa.array([False] * n, pa.bool_()) if n else pa.array([], pa.bool_())
        for c in [*KEYS, *FEATURES]:
            m = mismatch_mask(q[c].combine_chunks(), d[c].combine_chunks())
            cnt = pc.sum(m).as_py() or 0
            if cnt:
                problems.append(f"column {c}: {cnt} rows differ")
            bad = pc.or_(bad, m)

    if not problems:
        print(f"identical: yes ({n} rows)")
        return

    print("identical: no")
    for p in problems:
        print(f"  {p}")
    if bad is not None:
        idx = pc.indices_nonzero(bad)
        print(f"  mismatching rows: {len(idx)} of {n}")
        if len(idx):
            take = idx.slice(0, args.show)
            cols = ["row_id", *KEYS]
            shown = q.select(cols).take(take)
            for c in FEATURES:
                shown = shown.append_column(f"quiver.{c}", q[c].take(take))
                shown = shown.append_column(f"duckdb.{c}", d[c].take(take))
            print(f"  first {len(take)}:")
            for row in shown.to_pylist():
                print("   ", {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()})
    if args.strict:
        sys.exit(2)


if __name__ == "__main__":
    main()
