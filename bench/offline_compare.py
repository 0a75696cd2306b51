#!/usr/bin/env python3
"""Check that the training sets of bench/offline_flight.sh agree.

  offline_compare.py --entities E.parquet --features driver_stats.parquet
                     --quiver LABEL=FILE [--quiver LABEL=FILE ...] [--feast FILE]
                     [--ttl-seconds S]

quiver's answers (any number, the first is the reference) must each hold every
entity row once, in input order, with its entity columns untouched, and the three
features must be equal value for value across them (float32 compared exactly,
null equals only null).

Feast's answer comes in its own order and, by the design of its file offline store,
without some entity rows; it is matched on row_id. Every row it holds must equal
quiver's for that row_id (driver_id, event_timestamp and the features, float32
after casting both sides). Every entity row it lacks must be one of:
  - a row with no feature row of its driver in [t - ttl, t], read from the feature
    source here (Feast's file store filters the joined rows by the TTL before it
    keeps the latest, so an entity row whose driver has rows, but none in the
    window, is dropped; quiver answers nulls);
  - a repeat of an entity row (driver_id, event_timestamp) whose twin Feast did
    answer (it keeps one row per join keys and timestamp).
Any other missing row, or a row_id Feast answers twice or invents, is a difference.

The last line is `agree: yes` or `agree: no`; the exit status is 0 either way (1 on
a usage or read error).
"""

import argparse
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
FLOAT32 = {"conv_rate", "acc_rate"}
UTC_US = pa.timestamp("us", tz="UTC")
SHOW = 5


def values(column, name):
    """(values as float64, null mask) of a feature column; float32 features go through float32.

    NaN counts as null: Feast's answer passes through pandas, where a missing
    value is NaN (the generated data holds nulls, never NaN)."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if name in FLOAT32:
        column = column.cast(pa.float32())
    data = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    missing = np.asarray(column.is_null().to_numpy(zero_copy_only=False)) | np.isnan(data)
    return np.where(missing, 0.0, data), missing


def micros(column):
    return np.asarray(column.cast(UTC_US).cast(pa.int64()).to_numpy(zero_copy_only=False))


def differing(a_table, b_table):
    """Per feature, the positions where two equally ordered tables differ."""
    out = {}
    for name in FEATURES:
        a, a_null = values(a_table[name], name)
        b, b_null = values(b_table[name], name)
        out[name] = np.flatnonzero((a_null != b_null) | (~a_null & ~b_null & (a != b)))
    return out


def in_input_order(answer, entities):
    if answer.num_rows != entities.num_rows:
        return f"{answer.num_rows} rows for {entities.num_rows} entity rows"
    for name in ["row_id", "driver_id"]:
        if not np.array_equal(answer[name].to_numpy(), entities[name].to_numpy()):
            return f"column {name} is not the entity frame's, in its order"
    if not np.array_equal(micros(answer["event_timestamp"]), micros(entities["event_timestamp"])):
        return "column event_timestamp is not the entity frame's, in its order"
    return None


def latest_feature_time(entities, features):
    """Per entity row, the greatest event time of its driver's feature rows at or
    before t, in microseconds (NaN when there is none)."""
    right = pd.DataFrame(
        {"driver_id": features["driver_id"].to_numpy(), "feature_ts": micros(features["event_timestamp"])}
    ).drop_duplicates()
    left = pd.DataFrame(
        {
            "driver_id": entities["driver_id"].to_numpy(),
            "t": micros(entities["event_timestamp"]),
            "pos": np.arange(entities.num_rows),
        }
    )
    latest = pd.merge_asof(
        left.sort_values("t"),
        right.sort_values("feature_ts"),
        left_on="t",
        right_on="feature_ts",
        by="driver_id",
        direction="backward",
    )
    return latest.sort_values("pos")["feature_ts"].to_numpy(dtype="float64")


def same_features(a_table, b_table):
    """Per row of two equally long tables: all features equal (null equals only null)."""
    same = np.ones(a_table.num_rows, dtype=bool)
    for name in FEATURES:
        a, a_null = values(a_table[name], name)
        b, b_null = values(b_table[name], name)
        same &= (a_null == b_null) & (a_null | (a == b))
    return same


def late_correction_ties(positions, feast, mine, chosen_ts, features):
    """A mask over `positions` (rows where Feast's and quiver's answers differ): the
    driver has several feature rows at the chosen event time (a late correction),
    quiver holds the one with the greatest created and Feast another of them."""
    asked = pd.DataFrame(
        {
            "at": positions,
            "driver_id": feast["driver_id"].to_numpy()[positions],
            "feature_ts": chosen_ts[mine["row_id"].to_numpy()[positions]],
        }
    )
    rows = pd.DataFrame(
        {
            "driver_id": features["driver_id"].to_numpy(),
            "feature_ts": micros(features["event_timestamp"]).astype("float64"),
            "created": micros(features["created"]),
        }
    )
    pairs = asked.merge(rows.reset_index(names="source_row"), on=["driver_id", "feature_ts"])
    if pairs.empty:
        return np.zeros(len(positions), dtype=bool)
    source = features.take(pa.array(pairs["source_row"].to_numpy()))
    at = pa.array(pairs["at"].to_numpy())
    pairs["feast_holds"] = same_features(feast.take(at), source)
    pairs["quiver_holds"] = same_features(mine.take(at), source)
    pairs["latest"] = pairs["created"] == pairs.groupby("at")["created"].transform("max")
    pairs["quiver_holds_latest"] = pairs["quiver_holds"] & pairs["latest"]
    per_row = pairs.groupby("at").agg(
        ties=("source_row", "size"), feast=("feast_holds", "any"), quiver=("quiver_holds_latest", "any")
    )
    explained = per_row[(per_row["ties"] > 1) & per_row["feast"] & per_row["quiver"]].index
    return np.isin(positions, explained.to_numpy())


def check_quiver(answers, entities):
    """Prints the checks of quiver's answers; returns whether they all hold."""
    ok = True
    for label, answer in answers:
        problem = in_input_order(answer, entities)
        print(
            f"{label}: {answer.num_rows} rows, every entity row once, in input order: "
            f"{'yes' if problem is None else 'no (' + problem + ')'}"
        )
        ok &= problem is None
    if not ok or len(answers) < 2:
        return ok
    ref_label, ref = answers[0]
    for label, answer in answers[1:]:
        diffs = {name: pos for name, pos in differing(ref, answer).items() if len(pos)}
        if diffs:
            ok = False
            print(f"{label} differs from {ref_label}:")
            for name, pos in diffs.items():
                shown = ", ".join(
                    f"row_id {ref['row_id'][int(i)].as_py()}: {ref[name][int(i)].as_py()!r} vs "
                    f"{answer[name][int(i)].as_py()!r}"
                    for i in pos[:SHOW]
                )
                print(f"  {name}: {len(pos)} rows ({shown})")
    if ok:
        print(f"quiver's answers identical to each other: yes ({len(answers)} answers)")
    return ok


def check_feast(feast, reference, entities, features_path, ttl_us):
    """Prints the checks of Feast's answer against quiver's; returns whether they hold."""
    n = entities.num_rows
    features = pq.read_table(features_path)
    chosen_ts = latest_feature_time(entities, features)
    no_feature = np.isnan(chosen_ts) | (chosen_ts < micros(entities["event_timestamp"]) - ttl_us)
    problems = []

    row_ids = feast["row_id"].to_numpy(zero_copy_only=False)
    known = (row_ids >= 0) & (row_ids < n)
    if not known.all():
        problems.append(f"{int((~known).sum())} rows with a row_id not in the entity frame")
        feast = feast.filter(pa.array(known))
        row_ids = row_ids[known]
    answered = np.bincount(row_ids, minlength=n)
    if (answered > 1).any():
        problems.append(f"{int((answered > 1).sum())} row_ids answered more than once")

    # quiver's answer in Feast's order, compared row by row.
    mine = reference.take(pa.array(row_ids))
    if not np.array_equal(feast["driver_id"].to_numpy(zero_copy_only=False), mine["driver_id"].to_numpy()):
        problems.append("column driver_id differs from the entity frame's")
    if not np.array_equal(micros(feast["event_timestamp"]), micros(mine["event_timestamp"])):
        problems.append("column event_timestamp differs from the entity frame's")
    differ = np.unique(np.concatenate([pos for pos in differing(mine, feast).values()]))
    tied = late_correction_ties(differ, feast, mine, chosen_ts, features)
    unexplained = differ[~tied]
    print(
        f"Feast: {feast.num_rows} rows; {feast.num_rows - len(differ)} equal quiver's answer for "
        f"their row_id (float32 after casting), {int(tied.sum())} hold another of the feature rows "
        f"tied on the chosen event_timestamp (a late correction: Feast sorts by created, then by "
        f"event_timestamp, with an unstable sort, so it may keep the older row; quiver keeps the "
        f"greatest created, per the contract), {len(unexplained)} differ otherwise"
    )
    if len(unexplained):
        shown = "; ".join(
            f"row_id {row_ids[i]}: quiver {[mine[c][int(i)].as_py() for c in FEATURES]}, "
            f"Feast {[feast[c][int(i)].as_py() for c in FEATURES]}"
            for i in unexplained[:SHOW]
        )
        problems.append(f"{len(unexplained)} rows differ from quiver's answer ({shown})")

    # The entity rows Feast left out, and why.
    missing = answered == 0
    keys = pd.DataFrame(
        {"driver_id": entities["driver_id"].to_numpy(), "t": micros(entities["event_timestamp"])}
    )
    answered_keys = keys[~missing].drop_duplicates()
    merged = keys.merge(answered_keys, how="left", on=["driver_id", "t"], indicator=True)
    twin = (merged["_merge"] == "both").to_numpy()
    dropped_ttl = missing & no_feature
    dropped_repeat = missing & ~no_feature & twin
    unexplained = np.flatnonzero(missing & ~no_feature & ~twin)
    print(
        f"Feast leaves out {int(missing.sum())} entity rows: {int(dropped_ttl.sum())} with no "
        f"feature row in the TTL window (Feast's file store drops them; quiver answers nulls), "
        f"{int(dropped_repeat.sum())} repeats of an entity row it answered (it keeps one row "
        f"per driver_id and event_timestamp), {len(unexplained)} for no such reason"
    )
    _, reference_null = zip(*(values(reference[name], name) for name in FEATURES))
    valued = np.flatnonzero(dropped_ttl & ~np.logical_and.reduce(reference_null))
    if len(valued):
        problems.append(f"quiver answers values for {len(valued)} of them (row_ids {valued[:SHOW].tolist()})")
    if len(unexplained):
        problems.append(
            f"{len(unexplained)} entity rows missing for no known reason "
            f"(row_ids {unexplained[:SHOW].tolist()})"
        )
    for problem in problems:
        print(f"  {problem}")
    return not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", required=True)
    ap.add_argument("--features", required=True, help="the feature source (driver_stats.parquet)")
    ap.add_argument("--quiver", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--feast", help="Feast's answer")
    ap.add_argument("--ttl-seconds", type=int, default=2 * 24 * 3600)
    args = ap.parse_args()
    if not args.quiver:
        sys.exit("error: give at least one --quiver LABEL=FILE")

    entities = pq.read_table(args.entities)
    if entities["row_id"].to_pylist() != list(range(entities.num_rows)):
        sys.exit("error: the entity frame's row_id must be 0..rows-1 in file order (gen_entities.py)")
    answers = []
    for spec in args.quiver:
        label, sep, path = spec.partition("=")
        if not sep:
            sys.exit(f"error: --quiver {spec!r}: expected LABEL=FILE")
        answers.append((label, pq.read_table(path)))

    ok = check_quiver(answers, entities)
    if args.feast and ok:
        ok = check_feast(
            pq.read_table(args.feast), answers[0][1], entities, args.features, args.ttl_seconds * 1_000_000
        )
    elif args.feast:
        print("Feast: not compared (quiver's answers do not hold)")
    print(f"agree: {'yes' if ok else 'no'}")


if __name__ == "__main__":
    main()
