"""quiver's own Arrow Flight call from pyarrow.flight, over TLS with tokens.

    python flight_native.py --flight grpc+tls://HOST:PORT --ca CA.pem --tokens TOKENS.json \
        --entities ENTITIES.csv --expected EXPECTED.parquet

TOKENS.json holds {"offline": ..., "online": ..., "writer": ...}: tokens with the
scopes read-offline, read-online and write. EXPECTED is what `quiver historical`
wrote for the same entity rows and features. Prints `ok: N checks` or exits 1
naming the first failed check.
"""

import argparse
import json
import sys

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.flight as flight
import pyarrow.parquet as pq

FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"]
CHECKS = []


def check(name, condition, detail=""):
    if not condition:
        print(f"FAILED: {name}\n{detail}", file=sys.stderr)
        sys.exit(1)
    CHECKS.append(name)


def raises(name, classes, call, says=""):
    try:
        call()
    except classes as e:
        check(name, says in str(e), f"raised {type(e).__name__}: {e}")
        return
    except Exception as e:  # noqa: BLE001 - any other class is the failure
        check(name, False, f"raised {type(e).__name__}: {e}")
    check(name, False, "nothing was raised")


def bearer(token):
    return flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {token}".encode())])


def exchange(client, command, table, options):
    """The README's example: upload the entity rows, read the training set."""
    descriptor = flight.FlightDescriptor.for_command(json.dumps(command).encode())
    writer, reader = client.do_exchange(descriptor, options=options)
    writer.begin(table.schema)
    writer.write_table(table)
    writer.done_writing()
    return reader.read_all()


def same_rows(answer, expected, columns):
    a = answer.select(columns).to_pylist()
    b = expected.select(columns).to_pylist()
    return None if a == b else f"answer:\n{a[:5]}\nexpected:\n{b[:5]}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flight", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--entities", required=True)
    parser.add_argument("--expected", required=True)
    args = parser.parse_args()
    with open(args.ca, "rb") as f:
        ca = f.read()
    with open(args.tokens) as f:
        tokens = json.load(f)
    entities = pcsv.read_csv(args.entities)
    expected = pq.read_table(args.expected)
    client = flight.connect(args.flight, tls_root_certs=ca)
    offline = bearer(tokens["offline"])
    request = {"features": FEATURES}

    answer = exchange(client, request, entities, offline)
    check("do_exchange answers the training set of `quiver historical`",
          answer.num_rows == entities.num_rows
          and same_rows(answer, expected, expected.column_names) is None,
          same_rows(answer, expected, expected.column_names))

    # do_get: the rows inline as `entities`, in the ticket.
    inline = {
        "driver_id": entities.column("driver_id").to_pylist(),
        "event_timestamp": [t.isoformat() for t in entities.column("event_timestamp").to_pylist()],
    }
    ticket = flight.Ticket(json.dumps({**request, "entities": inline}).encode())
    got = client.do_get(ticket, options=offline).read_all()
    features = ["driver_id", "conv_rate", "avg_daily_trips"]
    check("do_get with the rows in the ticket answers the same", same_rows(got, expected, features) is None,
          same_rows(got, expected, features))

    # get_flight_info then do_get, as generic Flight clients (ADBC) call.
    descriptor = flight.FlightDescriptor.for_command(json.dumps({**request, "entities": inline}).encode())
    info = client.get_flight_info(descriptor, options=offline)
    got = client.do_get(info.endpoints[0].ticket, options=offline).read_all()
    check("get_flight_info then do_get answers the same", same_rows(got, expected, features) is None,
          same_rows(got, expected, features))

    # A feature service and full names.
    by_service = exchange(client, {"feature_service": "driver_activity", "full_feature_names": True},
                          entities, offline)
    check("a feature service with full feature names",
          "driver_hourly_stats__conv_rate" in by_service.column_names
          and by_service.num_rows == entities.num_rows, f"{by_service.schema}")

    # The HTTP API's tokens and scopes.
    raises("no token: unauthenticated", flight.FlightUnauthenticatedError,
           lambda: exchange(client, request, entities, None))
    raises("a forged token: unauthenticated", flight.FlightUnauthenticatedError,
           lambda: exchange(client, request, entities, bearer("qv_not-a-token")))
    raises("a read-online token: permission denied", flight.FlightUnauthorizedError,
           lambda: exchange(client, request, entities, bearer(tokens["online"])), says="read-offline")
    raises("a write token cannot read the offline store", flight.FlightUnauthorizedError,
           lambda: exchange(client, request, entities, bearer(tokens["writer"])))

    # Bad requests: a clear message, and the server goes on.
    raises("an unknown field is named", (pa.ArrowInvalid, flight.FlightServerError),
           lambda: exchange(client, {"feature": FEATURES}, entities, offline), says="unknown field `feature`")
    raises("an unknown feature is named", (pa.ArrowInvalid, flight.FlightServerError, KeyError),
           lambda: exchange(client, {"features": ["driver_hourly_stats:nope"]}, entities, offline),
           says="nope")
    raises("no entity rows", (pa.ArrowInvalid, flight.FlightServerError),
           lambda: client.do_get(flight.Ticket(json.dumps(request).encode()), options=offline).read_all(),
           says="no entity rows")
    actions = [a.type for a in client.list_actions(options=offline)]
    check("list_actions answers after the errors", isinstance(actions, list), f"{actions}")

    # Plain gRPC against the TLS port fails to connect.
    plain = flight.connect(args.flight.replace("grpc+tls://", "grpc://"))
    raises("plain gRPC is refused by the TLS server", flight.FlightUnavailableError,
           lambda: exchange(plain, request, entities, offline))

    print(f"ok: {len(CHECKS)} checks")


if __name__ == "__main__":
    main()
