"""Bad input gets INVALID_ARGUMENT with a message naming the problem; nothing already
acknowledged is lost; the node keeps serving. Uses pyarrow, and a raw gRPC client for the
inputs pyarrow will not produce (no descriptor at all, malformed IPC)."""
import json

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from lbutil import do_put, make_batch, scan, search, ticket
from longbow_harness import LongbowProcess

RNG = np.random.default_rng(11)
MAX_MESSAGE = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    proc = LongbowProcess(tmp_path_factory.mktemp("bad") / "data", env_extra={"LONGBOW_MAX_MESSAGE_SIZE": str(MAX_MESSAGE)}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def good(node):
    """A dataset with acknowledged rows that every test checks is still intact."""
    c = flight.connect(node.data_uri)
    vecs = RNG.random((100, 8), dtype=np.float32)
    do_put(c, "good", [make_batch(range(100), vecs)])
    return vecs


def put_error(client, dataset, batches, schema=None):
    """DoPut that is expected to fail: returns (acks before the failure, the exception)."""
    acks = []
    writer, reader = client.do_put(flight.FlightDescriptor.for_path(dataset) if isinstance(dataset, str) else dataset, schema or batches[0].schema)
    try:
        for b in batches:
            writer.write_batch(b)
            buf = reader.read()
            if buf is None:  # the server ended the call: close() raises its status
                break
            acks.append(json.loads(buf.to_pybytes()))
        writer.done_writing()
        writer.close()
    except Exception as e:  # noqa: BLE001 - any Flight error type is checked by the caller
        return acks, e
    raise AssertionError(f"DoPut to {dataset} succeeded; acks={acks}")


def still_serving(client, good):
    table = scan(client, "good")
    assert table.num_rows == 100
    res = search(client, "good", vector=good[17].tolist(), k=1)
    assert res.column("id").to_pylist() == [17]


def assert_invalid(exc, *fragments):
    assert isinstance(exc, pa.ArrowInvalid), f"{type(exc).__name__}: {exc}"
    for f in fragments:
        assert f in str(exc), f"{f!r} not in {exc}"


def test_descriptor_without_dataset_name(client, good):
    batch = make_batch([1], RNG.random((1, 8), dtype=np.float32))
    _, exc = put_error(client, flight.FlightDescriptor.for_path(), [batch])
    assert_invalid(exc, "INVALID_DESCRIPTOR")
    _, exc = put_error(client, flight.FlightDescriptor.for_command(b"insert"), [batch])
    assert_invalid(exc, "INVALID_DESCRIPTOR", "PATH")
    _, exc = put_error(client, "bad name/with slash", [batch])
    assert_invalid(exc, "INVALID_DESCRIPTOR", "bad name/with slash")
    still_serving(client, good)


def test_no_vector_column(client, good):
    batch = pa.record_batch([pa.array([1, 2], pa.int64()), pa.array([0.5, 0.7])], names=["id", "embedding"])
    _, exc = put_error(client, "novec", [batch])
    assert_invalid(exc, "INVALID_SCHEMA", '"vector"', "embedding")
    batch = pa.record_batch([pa.array([1], pa.int64()), pa.array([[1.0, 2.0]], pa.list_(pa.float64()))], names=["id", "vector"])
    _, exc = put_error(client, "novec", [batch])
    assert_invalid(exc, "INVALID_SCHEMA", "fixed_size_list<float32>")
    still_serving(client, good)


def test_wrong_dimension_for_existing_dataset(client, good):
    batch = make_batch([1000], RNG.random((1, 16), dtype=np.float32))
    _, exc = put_error(client, "good", [batch])
    assert_invalid(exc, "DIMENSION_MISMATCH", "dimension 8", "dimension 16")
    still_serving(client, good)


@pytest.mark.parametrize("bad_value,shown", [(np.nan, "NaN"), (np.inf, "+Inf"), (-np.inf, "-Inf")])
def test_non_finite_vectors(client, good, bad_value, shown):
    vecs = RNG.random((5, 8), dtype=np.float32)
    vecs[3, 6] = bad_value
    _, exc = put_error(client, "good", [make_batch(range(500, 505), vecs)])
    assert_invalid(exc, "NON_FINITE_VECTOR", "row 3", shown, "position 6")
    assert 503 not in scan(client, "good").column("id").to_pylist()
    still_serving(client, good)


def test_schema_change_and_null_id(client, good):
    vecs = RNG.random((2, 8), dtype=np.float32)
    _, exc = put_error(client, "good", [make_batch([7000, 7001], vecs, extra=["x", "y"])])
    assert_invalid(exc, "SCHEMA_MISMATCH", "extra")
    ids = pa.array([1, None], pa.int64())
    _, exc = put_error(client, "nullid", [make_batch(ids, vecs)])
    assert_invalid(exc, "INVALID_ID", "row 1")
    still_serving(client, good)


def test_error_mid_stream_keeps_the_acknowledged_batches(client, good):
    vecs = RNG.random((40, 8), dtype=np.float32)
    ok = [make_batch(range(i, i + 10), vecs[i : i + 10]) for i in (0, 10, 20)]
    broken = vecs[30:40].copy()
    broken[0, 0] = np.nan
    acks, exc = put_error(client, "midstream", ok + [make_batch(range(30, 40), broken)])
    assert [a["status"] for a in acks] == ["ok", "ok", "ok"]
    assert_invalid(exc, "NON_FINITE_VECTOR")
    assert sorted(scan(client, "midstream").column("id").to_pylist()) == list(range(30))
    still_serving(client, good)


def test_oversized_message(client, good):
    rows = (MAX_MESSAGE // (8 * 4)) + 1000
    batch = make_batch(range(rows), RNG.random((rows, 8), dtype=np.float32))
    _, exc = put_error(client, "huge", [batch])
    assert_invalid(exc, "MESSAGE_TOO_LARGE", str(MAX_MESSAGE))
    still_serving(client, good)


def test_bad_tickets(client, good):
    cases = [
        (flight.Ticket(b"{not json"), "INVALID_TICKET"),
        (ticket({"search": {"dataset": "good", "vector": [0.1] * 3}}), "DIMENSION_MISMATCH"),
        (ticket({"search": {"dataset": "good", "vector": [0.1] * 8, "k": 0}}), "INVALID_TICKET"),
        (ticket({"dataset": "good", "columns": ["nope"]}), "INVALID_TICKET"),
        (ticket({"dataset": "good", "filters": [{"field": "nope", "op": "=", "value": 1}]}), "INVALID_FILTER"),
        (ticket({"dataset": "good", "filters": [{"field": "id", "op": "~", "value": 1}]}), "INVALID_FILTER"),
        (ticket({"search": {"dataset": "good"}}), "INVALID_TICKET"),
    ]
    for t, code in cases:
        with pytest.raises(pa.ArrowInvalid, match=code):
            client.do_get(t).read_all()
    still_serving(client, good)


# --- raw gRPC: what pyarrow will not send -----------------------------------------------

DOPUT = "/arrow.flight.protocol.FlightService/DoPut"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num: int, payload: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def flight_data(header: bytes, body: bytes = b"", dataset: str | None = None) -> bytes:
    msg = b""
    if dataset is not None:
        msg += field(1, varint(1 << 3) + varint(1) + field(3, dataset.encode()))
    return msg + field(2, header) + (field(1000, body) if body else b"")


def ipc_parts(buf: pa.Buffer) -> tuple[bytes, bytes]:
    """Splits an encapsulated IPC message into (flatbuffer header, body)."""
    raw = buf.to_pybytes()
    length = int.from_bytes(raw[4:8], "little")
    return raw[8 : 8 + length], raw[8 + length :]


def raw_put(node, messages: list[bytes]):
    with grpc.insecure_channel(f"127.0.0.1:{node.data_port}") as ch:
        call = ch.stream_stream(DOPUT, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            return list(call(iter(messages), timeout=10)), None
        except grpc.RpcError as e:
            return None, e


def test_raw_no_descriptor_at_all(node, client, good):
    batch = make_batch([1], RNG.random((1, 8), dtype=np.float32))
    header, _ = ipc_parts(batch.schema.serialize())
    _, err = raw_put(node, [flight_data(header)])
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "INVALID_DESCRIPTOR" in err.details() and "no flight descriptor" in err.details()
    still_serving(client, good)


def test_raw_malformed_ipc(node, client, good):
    batch = make_batch(range(4), RNG.random((4, 8), dtype=np.float32))
    schema_header, _ = ipc_parts(batch.schema.serialize())
    batch_header, body = ipc_parts(batch.serialize())
    # Garbage where the flatbuffer header should be.
    _, err = raw_put(node, [flight_data(b"\x01\x02\x03 definitely not a flatbuffer", dataset="raw")])
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "MALFORMED_IPC" in err.details()
    # A record batch whose body is cut short.
    _, err = raw_put(node, [flight_data(schema_header, dataset="raw"), flight_data(batch_header, body[:20])])
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "MALFORMED_IPC" in err.details() and "body" in err.details()
    # A record batch before any schema.
    _, err = raw_put(node, [flight_data(batch_header, body, dataset="raw")])
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "before the schema" in err.details()
    # And the well-formed version of the same messages is accepted.
    acks, err = raw_put(node, [flight_data(schema_header, dataset="raw"), flight_data(batch_header, body)])
    assert err is None and json.loads(acks[0])["rows"] == 4
    assert scan(client, "raw").num_rows == 4
    still_serving(client, good)

