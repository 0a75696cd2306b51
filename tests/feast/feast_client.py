"""Feast's own client (feast==0.67.0, SDK and CLI) against a real `quiver serve`.

Run by tests/feast_client.rs:

    python feast_client.py --quiver URL --flight grpc://HOST:PORT --data REPO/data --work DIR

Two Feast repos are written under DIR from definitions.py (a mirror of quiver's
example repo over the same Parquet files): `remote/`, whose feature_store.yaml
points its online store at quiver's HTTP API and its offline store at quiver's
Arrow Flight server (the only edits a Feast user makes), and `local/`, Feast's
own SQLite online store and file offline store, materialized by Feast itself.
Every call goes through both and the answers are compared (float32 values
after casting both sides to float32). Any difference fails the script (exit 1)
with the call, both answers and what differs; the last line is `ok: N checks`.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import requests  # noqa: E402
from feast import FeatureStore, FileSource  # noqa: E402
from feast.data_source import PushMode  # noqa: E402
from feast.infra.offline_stores.file_source import SavedDatasetFileStorage  # noqa: E402
from feast.infra.offline_stores.remote import _send_retrieve_remote, build_arrow_flight_client  # noqa: E402
from feast.errors import (  # noqa: E402
    DataSourceObjectNotFoundException,
    FeastError,
    FeatureServiceNotFoundException,
    FeatureViewNotFoundException,
    PushSourceNotFoundException,
)

HERE = os.path.dirname(os.path.abspath(__file__))
FLOAT32 = {"conv_rate", "acc_rate", "avg_passenger_count"}
CHECKS = []


def check(name, condition, detail=""):
    if not condition:
        print(f"FAILED: {name}\n{detail}", file=sys.stderr)
        sys.exit(1)
    CHECKS.append(name)
    print(f"ok: {name}")


def write_repo(path, online_store, offline_store):
    os.makedirs(path, exist_ok=True)
    shutil.copy(os.path.join(HERE, "definitions.py"), os.path.join(path, "definitions.py"))
    with open(os.path.join(path, "feature_store.yaml"), "w") as f:
        f.write(
            "project: driver_ranking\n"
            "provider: local\n"
            "registry: registry.db\n"
            f"online_store: {online_store}\n"
            f"offline_store: {offline_store}\n"
            "entity_key_serialization_version: 3\n"
        )


def feast_cli(repo, *args):
    """The `feast` CLI of this venv in `repo`; its stdout (fails the run on an error)."""
    feast = os.path.join(os.path.dirname(sys.executable), "feast")
    done = subprocess.run([feast, *args], cwd=repo, capture_output=True, text=True)
    check(f"feast {' '.join(args)} exits 0", done.returncode == 0, done.stdout + done.stderr)
    return done.stdout


def same_value(name, a, b):
    if a is None or b is None:
        return a is None and b is None
    base = name.split("__")[-1]
    if base in FLOAT32:
        return np.float32(a) == np.float32(b)
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return a == b


def same_answer(quiver, feast):
    """What differs between two `to_dict()` answers, or None."""
    # Feast orders a view's features its own way; the entity columns come first in both.
    if sorted(quiver) != sorted(feast):
        return f"columns differ: {list(quiver)} vs {list(feast)}"
    for name in quiver:
        if len(quiver[name]) != len(feast[name]):
            return f"{name}: {len(quiver[name])} vs {len(feast[name])} values"
        for row, (a, b) in enumerate(zip(quiver[name], feast[name])):
            if not same_value(name, a, b):
                return f"{name}[{row}]: quiver {a!r}, feast {b!r}"
    return None


def compare(label, remote, local, **call):
    quiver = remote.get_online_features(**call).to_dict()
    feast = local.get_online_features(**call).to_dict()
    differs = same_answer(quiver, feast)
    check(label, differs is None, f"{differs}\nquiver: {quiver}\nfeast:  {feast}")
    return quiver


def raises(label, cls, call):
    try:
        call()
    except cls as e:
        check(label, type(e) is cls, f"raised {type(e).__module__}.{type(e).__name__}: {e}")
        return
    except Exception as e:  # noqa: BLE001
        check(label, False, f"raised {type(e).__module__}.{type(e).__name__}: {e}")
    check(label, False, "nothing was raised")


def feast_error_of(response):
    """What Feast's REST error handler makes of an error response."""
    return FeastError.from_error_detail(response.json())


def plain(value):
    """A cell as a comparable Python value: every kind of missing is None."""
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if hasattr(value, "item") else value


def same_frame(quiver, feast, keys):
    """What differs between two DataFrames (rows in any order), or None."""
    if sorted(quiver.columns) != sorted(feast.columns):
        return f"columns differ: {list(quiver.columns)} vs {list(feast.columns)}"
    if len(quiver) != len(feast):
        return f"{len(quiver)} vs {len(feast)} rows"
    quiver = quiver.sort_values(keys).reset_index(drop=True)
    feast = feast[list(quiver.columns)].sort_values(keys).reset_index(drop=True)
    for name in quiver.columns:
        for row, (a, b) in enumerate(zip(quiver[name], feast[name])):
            if not same_value(name, plain(a), plain(b)):
                return f"{name}[{row}]: quiver {a!r}, feast {b!r}"
    return None


def same_training_set(quiver, feast, entity_df, keys):
    """What differs between quiver's training set and Feast's file store's, or None.

    quiver answers one row per entity row. Feast's file offline store drops
    duplicate entity rows, and entity rows whose feature rows all lie after
    them (outside the join, not only outside the TTL); every row it keeps
    must be in quiver's answer with the same values, and every row it drops
    must have no feature values in quiver's (nothing leaked)."""
    if len(quiver) != len(entity_df):
        return f"quiver answers {len(quiver)} rows for {len(entity_df)} entity rows"
    if sorted(quiver.columns) != sorted(feast.columns):
        return f"columns differ: {list(quiver.columns)} vs {list(feast.columns)}"
    unique = quiver.drop_duplicates(subset=keys)
    kept = unique.merge(feast[keys], on=keys, how="inner")
    differs = same_frame(kept, feast, keys)
    if differs:
        return differs
    features = [c for c in quiver.columns if c not in entity_df.columns]
    dropped = unique.merge(feast[keys], on=keys, how="left", indicator=True)
    dropped = dropped[dropped["_merge"] == "left_only"]
    if dropped[features].notna().any().any():
        return f"rows Feast's file store drops have values in quiver's:\n{dropped}"
    return None


def compare_training_sets(label, remote, local, entity_df, keys, **call):
    quiver = remote.get_historical_features(entity_df=entity_df, **call).to_df()
    feast = local.get_historical_features(entity_df=entity_df, **call).to_df()
    differs = same_training_set(quiver, feast, entity_df, keys)
    check(label, differs is None, f"{differs}\nquiver:\n{quiver}\nfeast:\n{feast}")


def offline_over_flight(args, remote, local, drivers, customers, now):
    """Feast's remote offline store against quiver's Arrow Flight server."""
    times = [now - timedelta(hours=1), now - timedelta(hours=30), now - timedelta(days=3)]
    rows = [(d, t) for d in drivers + [99999] for t in times] + [(drivers[0], times[0])]
    entity_df = pd.DataFrame({"driver_id": [d for d, _ in rows],
                              "event_timestamp": [t for _, t in rows]})
    driver_features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
                       "driver_hourly_stats:avg_daily_trips"]
    keys = ["driver_id", "event_timestamp"]
    compare_training_sets("get_historical_features over Flight: feature list, unknown and duplicate rows",
                          remote, local, entity_df, keys, features=driver_features)
    compare_training_sets("get_historical_features over Flight: full_feature_names",
                          remote, local, entity_df, keys, features=driver_features, full_feature_names=True)
    customer_df = pd.DataFrame({"customer_id": customers + ["C99999"],
                                "event_timestamp": [now] * (len(customers) + 1)})
    compare_training_sets("get_historical_features over Flight: string keys", remote, local, customer_df,
                          ["customer_id", "event_timestamp"],
                          features=["customer_profile:current_balance", "customer_profile:segment",
                                    "customer_profile:avg_passenger_count"])
    composite = entity_df.assign(customer_id=[customers[i % len(customers)] for i in range(len(entity_df))])
    compare_training_sets("get_historical_features over Flight: feature service, composite rows",
                          remote, local, composite, keys + ["customer_id"],
                          features=remote.get_feature_service("ride_ranking"))

    # The offline store's other calls, as Feast's materialization and tools make them.
    quiver_store = remote._get_provider().offline_store
    feast_store = local._get_provider().offline_store
    source = remote.get_data_source("driver_stats_source")
    pull = dict(data_source=source, join_key_columns=["driver_id"],
                feature_name_columns=["conv_rate", "acc_rate", "avg_daily_trips"],
                timestamp_field="event_timestamp", created_timestamp_column="created",
                start_date=now - timedelta(days=2), end_date=now + timedelta(hours=1))
    for name, sort in [("pull_latest_from_table_or_query", ["driver_id"]),
                       ("pull_all_from_table_or_query", ["driver_id", "event_timestamp", "created"])]:
        quiver = getattr(quiver_store, name)(config=remote.config, **pull).to_df()
        feast = getattr(feast_store, name)(config=local.config, **pull).to_df()
        differs = same_frame(quiver, feast, sort)
        check(f"{name} over Flight", differs is None and len(quiver) > 0,
              f"{differs}\nquiver:\n{quiver}\nfeast:\n{feast}")
    quiver_columns = dict(quiver_store.get_table_column_names_and_types_from_data_source(remote.config, source))
    feast_columns = dict(source.get_table_column_names_and_types(local.config))
    check("get_table_column_names_and_types_from_data_source over Flight",
          quiver_columns == feast_columns, f"quiver {quiver_columns}\nfeast  {feast_columns}")
    quiver_store.validate_data_source(remote.config, source)
    check("validate_data_source over Flight", True)

    # Typed exceptions from the server, as Feast's Flight client raises them.
    client = build_arrow_flight_client("http", "127.0.0.1", urlparse(args.flight).port, remote.config.auth_config)
    raises("unknown view over Flight: FeatureViewNotFoundException", FeatureViewNotFoundException,
           lambda: _send_retrieve_remote(
               "get_historical_features",
               {"feature_view_names": ["no_view"], "feature_refs": ["no_view:x"], "project": "driver_ranking",
                "full_feature_names": False, "name_aliases": [None]},
               entity_df, None, client))
    raises("unknown data source over Flight: DataSourceObjectNotFoundException", DataSourceObjectNotFoundException,
           lambda: quiver_store.validate_data_source(remote.config, FileSource(name="no_source", path="x.parquet",
                                                                               timestamp_field="event_timestamp")))

    # Writes: rows into quiver's offline store, then read back in a training set.
    t = now - timedelta(minutes=10)
    written = pd.DataFrame({"driver_id": [7100], "event_timestamp": [t], "created": [t],
                            "conv_rate": [0.625], "acc_rate": [0.25], "avg_daily_trips": [42]})
    remote.write_to_offline_store("driver_hourly_stats", written[list(feast_columns)])
    back = remote.get_historical_features(
        entity_df=pd.DataFrame({"driver_id": [7100], "event_timestamp": [now]}),
        features=driver_features).to_df()
    check("write_to_offline_store (offline_write_batch) reads back over Flight",
          back["avg_daily_trips"].tolist() == [42] and np.float32(back["conv_rate"][0]) == np.float32(0.625),
          f"{back}")

    # persist: a training set kept as a saved dataset with its lineage.
    job = remote.get_historical_features(entity_df=entity_df, features=driver_features)
    remote.create_saved_dataset(from_=job, name="flight_training_set",
                                storage=SavedDatasetFileStorage(path=os.path.join(args.work, "saved.parquet")))
    check("create_saved_dataset (persist) over Flight", True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quiver", required=True)
    parser.add_argument("--flight", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    os.environ["QUIVER_FEAST_DATA"] = args.data

    remote_dir = os.path.join(args.work, "remote")
    local_dir = os.path.join(args.work, "local")
    flight = urlparse(args.flight)
    write_repo(remote_dir, f'{{type: remote, path: "{args.quiver}"}}',
               f"{{type: remote, host: {flight.hostname}, port: {flight.port}}}")
    write_repo(local_dir, "{type: sqlite, path: online.db}", "{type: file}")
    feast_cli(local_dir, "apply")
    feast_cli(remote_dir, "apply")
    remote = FeatureStore(repo_path=remote_dir)
    local = FeatureStore(repo_path=local_dir)

    # Materialize: Feast's SDK and CLI with the remote store call quiver's routes.
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start, end = now - timedelta(days=3), now + timedelta(hours=1)
    local.materialize(start, end)
    remote.materialize(start, end)
    check("materialize (SDK) through quiver", True)
    naive = lambda t: t.replace(tzinfo=None).isoformat()  # noqa: E731
    feast_cli(remote_dir, "materialize", naive(start), naive(end))
    feast_cli(remote_dir, "materialize-incremental", naive(end))
    feast_cli(remote_dir, "materialize", "--disable-event-timestamp")
    remote.materialize_incremental(end, feature_views=["driver_hourly_stats"])
    remote.materialize(start, end, feature_views=["customer_profile"], run_async=True)
    check("materialize(run_async=True) and materialize_incremental(feature_views)", True)

    drivers = sorted(set(pd.read_parquet(os.path.join(args.data, "driver_stats.parquet"))["driver_id"]))
    customers = sorted(set(pd.read_parquet(os.path.join(args.data, "customer_profile.parquet"))["customer_id"]))
    driver_rows = [{"driver_id": int(d)} for d in drivers] + [{"driver_id": 99999}, {"driver_id": int(drivers[0])}]
    driver_features = [
        "driver_hourly_stats:conv_rate",
        "driver_hourly_stats:acc_rate",
        "driver_hourly_stats:avg_daily_trips",
    ]

    # Reads: the same answers as Feast's own store.
    compare("feature list, unknown and duplicate entities", remote, local,
            features=driver_features, entity_rows=driver_rows)
    compare("full_feature_names", remote, local,
            features=driver_features, entity_rows=driver_rows, full_feature_names=True)
    compare("columnar entity rows", remote, local,
            features=driver_features, entity_rows={"driver_id": [int(d) for d in drivers]})
    compare("string keys", remote, local,
            features=["customer_profile:current_balance", "customer_profile:avg_passenger_count",
                      "customer_profile:lifetime_trip_count", "customer_profile:segment"],
            entity_rows=[{"customer_id": c} for c in customers] + [{"customer_id": "C99999"}])
    for service in ["driver_activity", "ride_ranking"]:
        rows = [{"driver_id": int(d), "customer_id": customers[i % len(customers)]} for i, d in enumerate(drivers)]
        compare(f"feature service {service} (composite entity rows)", remote, local,
                features=remote.get_feature_service(service), entity_rows=rows)
    compare("feature service with full_feature_names", remote, local,
            features=remote.get_feature_service("ride_ranking"),
            entity_rows=[{"driver_id": int(drivers[0]), "customer_id": customers[0]}],
            full_feature_names=True)

    quiver_df = remote.get_online_features(features=driver_features, entity_rows=driver_rows).to_df()
    feast_df = local.get_online_features(features=driver_features, entity_rows=driver_rows).to_df()
    feast_df = feast_df[list(quiver_df.columns)]
    for name in ["conv_rate", "acc_rate"]:
        quiver_df[name] = quiver_df[name].astype("float32")
        feast_df[name] = feast_df[name].astype("float32")
    check("to_df()", quiver_df.equals(feast_df) or quiver_df.astype(object).where(quiver_df.notna(), None)
          .equals(feast_df.astype(object).where(feast_df.notna(), None)), f"{quiver_df}\n{feast_df}")

    # Keys as Feast converts them: "1001" and 1001.0 for an int64 key.
    as_int = remote.get_online_features(features=driver_features[:1],
                                        entity_rows=[{"driver_id": int(drivers[0])}]).to_dict()
    as_text = remote.get_online_features(features=driver_features[:1],
                                         entity_rows=[{"driver_id": str(drivers[0])}]).to_dict()
    as_float = remote.get_online_features(features=driver_features[:1],
                                          entity_rows=[{"driver_id": float(drivers[0])}]).to_dict()
    check("an int64 key sent as text or as an integral float reads and echoes as the integer",
          as_text == as_int and as_float == as_int, f"{as_int} {as_text} {as_float}")

    # Every entity column sent is echoed, even one no requested view reads.
    extra = remote.get_online_features(features=driver_features[:1],
                                       entity_rows=[{"driver_id": int(drivers[0]), "customer_id": customers[0]}]).to_dict()
    check("entity columns no view reads are echoed", extra.get("customer_id") == [customers[0]], f"{extra}")

    # Writes: push and write_to_online_store through quiver, the same rows to Feast.
    t = now.replace(tzinfo=None) + timedelta(minutes=30)
    pushed = pd.DataFrame({
        "driver_id": [7001, 7002],
        "event_timestamp": [t, t],
        "created": [t, t],
        "conv_rate": [0.25, 0.5],
        "acc_rate": [0.5, 0.75],
        "avg_daily_trips": [10, 20],
    })
    for store in (remote, local):
        store.push("driver_stats_push", pushed, to=PushMode.ONLINE)
    compare("push(to=ONLINE)", remote, local, features=driver_features,
            entity_rows=[{"driver_id": 7001}, {"driver_id": 7002}])
    written = pd.DataFrame({
        "driver_id": [7003],
        "event_timestamp": [t],
        "created": [None],
        "conv_rate": [0.125],
        "acc_rate": [0.5],
        "avg_daily_trips": [30],
    })
    remote.write_to_online_store("driver_hourly_stats", written)
    # Feast's own SQLite store cannot bind a missing created time (NaT).
    local.write_to_online_store("driver_hourly_stats", written.assign(created=[t]))
    compare("write_to_online_store (created null)", remote, local, features=driver_features,
            entity_rows=[{"driver_id": 7003}])

    # Typed exceptions, as Feast's server makes its client raise them.
    raises("unknown feature view: FeatureViewNotFoundException", FeatureViewNotFoundException,
           lambda: remote.get_online_features(features=["no_view:x"], entity_rows=[{"driver_id": 1}]))
    session = requests.Session()  # Feast's client is a requests session
    answer = session.post(f"{args.quiver}/get-online-features",
                          json={"feature_service": "no_service", "entities": {"driver_id": [1]}})
    check("unknown feature service: 404", answer.status_code == 404, answer.text)
    check("unknown feature service: FeatureServiceNotFoundException",
          type(feast_error_of(answer)) is FeatureServiceNotFoundException, answer.text)
    answer = session.post(f"{args.quiver}/push",
                          json={"push_source_name": "no_source", "df": {"driver_id": [1]}, "to": "online"})
    check("unknown push source: 422", answer.status_code == 422, answer.text)
    check("unknown push source: PushSourceNotFoundException",
          type(feast_error_of(answer)) is PushSourceNotFoundException, answer.text)
    answer = session.post(f"{args.quiver}/write-to-online-store",
                          json={"feature_view_name": "no_view", "df": {"driver_id": [1]}})
    check("write to an unknown view: 404 FeatureViewNotFoundException",
          answer.status_code == 404 and type(feast_error_of(answer)) is FeatureViewNotFoundException,
          answer.text)
    # quiver's own error stays in the body for quiver's clients.
    inner = json.loads(answer.json())
    check("quiver's error inside Feast's body", inner["error"]["code"] == "not_found", answer.text)

    # Feast's documented curl bodies: naive timestamps, every field.
    answer = session.post(f"{args.quiver}/push", json={
        "push_source_name": "driver_stats_push",
        "df": {"driver_id": [7004], "event_timestamp": [t.isoformat()], "created": [t.isoformat()],
               "conv_rate": [1.0], "acc_rate": [1.0], "avg_daily_trips": [1000]},
        "to": "online", "allow_registry_cache": True, "transform_on_write": True,
    })
    check("POST /push with naive timestamps and every Feast field", answer.status_code == 200, answer.text)
    answer = session.post(f"{args.quiver}/get-online-features", json={
        "features": ["driver_hourly_stats:avg_daily_trips"], "entities": {"driver_id": [7004]},
        "full_feature_names": False, "include_feature_view_version_metadata": True,
    })
    check("the naive push reads back", answer.status_code == 200
          and answer.json()["results"][1]["values"] == [1000], answer.text)
    # An int64 key written as an integral float (a pandas column with a gap).
    answer = session.post(f"{args.quiver}/write-to-online-store", json={
        "feature_view_name": "driver_hourly_stats",
        "df": {"driver_id": [7006.0], "event_timestamp": [t.isoformat()], "created": [None],
               "conv_rate": [0.5], "acc_rate": [0.5], "avg_daily_trips": [6]},
    })
    read_back = remote.get_online_features(features=["driver_hourly_stats:avg_daily_trips"],
                                           entity_rows=[{"driver_id": 7006}]).to_dict()
    check("an int64 key written as an integral float reads back as the integer",
          answer.status_code == 200 and read_back["avg_daily_trips"] == [6], f"{answer.text} {read_back}")

    # The deliberate differences (README "Coming from Feast"), as they stand.
    stale = pd.DataFrame({
        "driver_id": [7005], "event_timestamp": [t - timedelta(days=3)], "created": [t],
        "conv_rate": [0.375], "acc_rate": [0.5], "avg_daily_trips": [5],
    })
    for store in (remote, local):
        store.write_to_online_store("driver_hourly_stats", stale)
    call = dict(features=driver_features[:1], entity_rows=[{"driver_id": 7005}])
    quiver_stale = remote.get_online_features(**call)
    feast_stale = local.get_online_features(**call)
    check("difference: past its TTL quiver answers null, Feast the stale value",
          quiver_stale.to_dict()["conv_rate"] == [None]
          and np.float32(feast_stale.to_dict()["conv_rate"][0]) == np.float32(0.375),
          f"{quiver_stale.to_dict()} {feast_stale.to_dict()}")
    older = pd.DataFrame({
        "driver_id": [7001], "event_timestamp": [t - timedelta(hours=1)], "created": [t],
        "conv_rate": [0.875], "acc_rate": [0.5], "avg_daily_trips": [5],
    })
    for store in (remote, local):
        store.write_to_online_store("driver_hourly_stats", older)
    call = dict(features=driver_features[:1], entity_rows=[{"driver_id": 7001}])
    quiver_older = remote.get_online_features(**call).to_dict()["conv_rate"]
    feast_older = local.get_online_features(**call).to_dict()["conv_rate"]
    check("difference: an older write is dropped by quiver, overwrites in Feast",
          quiver_older == [0.25] and np.float32(feast_older[0]) == np.float32(0.875),
          f"quiver {quiver_older}, feast {feast_older}")

    offline_over_flight(args, remote, local, [int(d) for d in drivers], customers, now)

    print(f"ok: {len(CHECKS)} checks")


if __name__ == "__main__":
    main()
