#!/usr/bin/env python3
"""The client side of bench/offline_flight.sh: one training-set call, timed.

offline_flight.py wait --flight URL --pid PID [--timeout S]
    wait until the Flight server at URL answers (Feast's `serve_offline` prints
    nothing when it is ready); exit 1 if PID exits first or S seconds pass

offline_flight.py call --mode MODE --url URL --entities FILE --out FILE
                       --server-pid PID [--time-limit S] [--max-server-mib M]
    MODE is one of
      feast-flight   Feast's remote offline store protocol, as Feast's client
                     (feast/infra/offline_stores/remote.py, `_call_exchange`)
                     sends it: `do_exchange` with the command JSON
                     {"command_id", "api": "get_historical_features",
                     "feature_view_names", "feature_refs", "project",
                     "full_feature_names", "name_aliases"}, the entity frame
                     written as `pa.Table.from_pandas(entity_df)`, the result
                     read with `read_all()`
      native-flight  quiver's own `do_exchange`: the command JSON
                     {"features": [...]} and the entity table as read
      http           POST /get-historical-features with the entity table as
                     an Arrow IPC stream, the features as a query parameter,
                     the answer asked for as an Arrow IPC stream
    The time is the call alone, from the first byte sent to the result fully
    read into an Arrow table (the entity frame is loaded, and for feast-flight
    converted as Feast converts it, beforehand). While the call runs, a
    watchdog reads the server's memory from /proc/PID/status; past
    --max-server-mib MiB of resident memory, or --time-limit seconds, it kills
    the server (the call then fails, and the status says why). The result is
    written to --out (Parquet) and the figures to stdout as `key: value` lines:
    status, seconds, rows, server_rss_before_mib, server_peak_mib (VmHWM).
"""

import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import uuid

import pyarrow as pa
import pyarrow.flight as fl
import pyarrow.parquet as pq

VIEW = "driver_hourly_stats"
FEATURE_NAMES = ["conv_rate", "acc_rate", "avg_daily_trips"]
FEATURE_REFS = [f"{VIEW}:{name}" for name in FEATURE_NAMES]
FEAST_PROJECT = "driver_ranking"  # feature_repo/quiver.yaml and the Feast mirror's feature_store.yaml
ARROW_STREAM = "application/vnd.apache.arrow.stream"


# --- the server process ----------------------------------------------------------
def proc_status_kib(pid, field):
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


class Watchdog(threading.Thread):
    """Kills the server when it holds more than `max_kib` resident or runs past `limit_s`."""

    def __init__(self, pid, limit_s, max_kib):
        super().__init__(daemon=True)
        self.pid, self.limit_s, self.max_kib = pid, limit_s, max_kib
        self.started = time.monotonic()
        self.stopped = threading.Event()
        self.verdict = None  # why the server was killed, if it was
        self.last_hwm_kib = None

    def run(self):
        while not self.stopped.wait(0.1):
            rss = proc_status_kib(self.pid, "VmRSS")
            if rss is None:
                return
            self.last_hwm_kib = proc_status_kib(self.pid, "VmHWM") or self.last_hwm_kib
            if self.max_kib and rss > self.max_kib:
                self.kill(f"out of memory (server resident memory passed {self.max_kib // 1024} MiB)")
            elif time.monotonic() - self.started > self.limit_s:
                self.kill(f"did not finish within {self.limit_s:g} s")

    def kill(self, verdict):
        self.verdict = verdict
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.stopped.set()


# --- the three ways to ask for a training set ----------------------------------------
def feast_flight_upload(entities):
    """What Feast's client writes for an entity DataFrame: `pa.Table.from_pandas(entity_df)`."""
    return pa.Table.from_pandas(entities.to_pandas())


def exchange(url, command, upload, timeout_s):
    client = fl.FlightClient(url)
    try:
        descriptor = fl.FlightDescriptor.for_command(json.dumps(command))
        writer, reader = client.do_exchange(descriptor, fl.FlightCallOptions(timeout=timeout_s))
        writer.begin(upload.schema)
        writer.write_table(upload)
        writer.done_writing()
        return reader.read_all()
    finally:
        client.close()


def call_feast_flight(url, upload, timeout_s):
    command = {
        "command_id": str(uuid.uuid4()),
        "api": "get_historical_features",
        "feature_view_names": [VIEW],
        "feature_refs": FEATURE_REFS,
        "project": FEAST_PROJECT,
        "full_feature_names": False,
        "name_aliases": [None],
    }
    return exchange(url, command, upload, timeout_s)


def call_native_flight(url, upload, timeout_s):
    return exchange(url, {"features": FEATURE_REFS}, upload, timeout_s)


def call_http(url, upload, timeout_s):
    base = urllib.parse.urlsplit(url)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, upload.schema) as writer:
        writer.write_table(upload)
    body = sink.getvalue()
    query = urllib.parse.urlencode({"features": ",".join(FEATURE_REFS)})
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=timeout_s)
    try:
        conn.request(
            "POST",
            f"/get-historical-features?{query}",
            body=memoryview(body),
            headers={"Content-Type": ARROW_STREAM, "Accept": ARROW_STREAM},
        )
        response = conn.getresponse()
        if response.status != 200:
            detail = response.read().decode("utf-8", "replace")
            raise RuntimeError(f"HTTP {response.status}: {detail}")
        return pa.ipc.open_stream(response).read_all()
    finally:
        conn.close()


CALLS = {"feast-flight": call_feast_flight, "native-flight": call_native_flight, "http": call_http}


def one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def cmd_call(args):
    entities = pq.read_table(args.entities)
    upload = feast_flight_upload(entities) if args.mode == "feast-flight" else entities
    rss_before = proc_status_kib(args.server_pid, "VmRSS")
    if rss_before is None:
        sys.exit(f"error: the server (pid {args.server_pid}) is not running")

    watchdog = Watchdog(args.server_pid, args.time_limit, args.max_server_mib * 1024)
    watchdog.start()
    started = time.monotonic()
    result, error = None, None
    try:
        # The transport's own deadline is a backstop: the watchdog stops a stuck server first.
        result = CALLS[args.mode](args.url, upload, args.time_limit + 60)
    except Exception as e:  # noqa: BLE001 - any failure is this mode's result, reported below
        error = e
    seconds = time.monotonic() - started
    watchdog.stopped.set()
    watchdog.join()
    peak = proc_status_kib(args.server_pid, "VmHWM") or watchdog.last_hwm_kib

    if error is None:
        pq.write_table(result, args.out)
        status = "ok"
    elif watchdog.verdict:
        status = watchdog.verdict
    elif proc_status_kib(args.server_pid, "VmRSS") is None:
        status = f"failed: the server exited during the call ({one_line(error)})"
    else:
        status = f"failed: {one_line(error)}"
    print(f"status: {status}")
    print(f"seconds: {seconds:.3f}" if error is None else "seconds: n/a")
    print(f"rows: {result.num_rows if result is not None else 'n/a'}")
    print(f"server_rss_before_mib: {mib(rss_before)}")
    print(f"server_peak_mib: {mib(peak)}")


def cmd_wait(args):
    deadline = time.monotonic() + args.timeout
    last = None
    while time.monotonic() < deadline:
        if proc_status_kib(args.pid, "VmRSS") is None:
            sys.exit(f"error: the server (pid {args.pid}) exited before it answered")
        client = fl.FlightClient(args.flight)
        try:
            list(client.list_actions(fl.FlightCallOptions(timeout=2)))
            return
        except fl.FlightError as e:
            last = e
        finally:
            client.close()
        time.sleep(0.2)
    sys.exit(f"error: no Flight server answered at {args.flight} within {args.timeout} s ({one_line(last)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    call = sub.add_parser("call", help="one timed training-set call")
    call.add_argument("--mode", required=True, choices=sorted(CALLS))
    call.add_argument("--url", required=True, help="grpc://HOST:PORT for Flight, http://HOST:PORT for HTTP")
    call.add_argument("--entities", required=True, help="the entity frame (Parquet)")
    call.add_argument("--out", required=True, help="where to write the result (Parquet)")
    call.add_argument("--server-pid", type=int, required=True, help="the server process, for its memory")
    call.add_argument("--time-limit", type=float, default=1200, help="seconds (default 1200)")
    call.add_argument(
        "--max-server-mib",
        type=int,
        default=0,
        help="kill the server past this resident memory (default 0: no limit)",
    )
    call.set_defaults(run=cmd_call)

    wait = sub.add_parser("wait", help="wait until a Flight server answers")
    wait.add_argument("--flight", required=True, help="grpc://HOST:PORT")
    wait.add_argument("--pid", type=int, required=True, help="the server process")
    wait.add_argument("--timeout", type=float, default=120)
    wait.set_defaults(run=cmd_wait)

    args = ap.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
