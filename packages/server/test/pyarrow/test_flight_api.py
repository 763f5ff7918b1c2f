"""The Flight API as a pyarrow user sees it: DoPut (plain and compressed), DoGet scans and
searches, ListFlights, GetFlightInfo → DoGet, GetSchema, DoAction, health and metrics."""
import json

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from lbutil import action, do_put, make_batch, scan, search, ticket, vector_array

RNG = np.random.default_rng(7)


def test_put_acknowledges_each_batch_with_increasing_lsn(client):
    vecs = RNG.random((300, 8), dtype=np.float32)
    batches = [make_batch(range(i * 100, i * 100 + 100), vecs[i * 100 : i * 100 + 100]) for i in range(3)]
    acks = do_put(client, "acks", batches)
    oks = [a for a in acks if a["status"] == "ok"]
    assert [a["rows"] for a in oks] == [100, 100, 100]
    lsns = [a["lsn"] for a in oks]
    assert lsns == sorted(lsns) and len(set(lsns)) == 3
    table = scan(client, "acks")
    assert table.num_rows == 300
    assert sorted(table.column("id").to_pylist()) == list(range(300))


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_put_compressed_round_trips_values(client, compression):
    vecs = RNG.standard_normal((500, 16)).astype(np.float32)
    texts = [f"doc {i}" for i in range(500)]
    batch = make_batch(range(500), vecs, text=texts, price=pa.array(np.arange(500) * 0.5))
    name = f"compressed_{compression}"
    acks = do_put(client, name, [batch], compression=compression)
    assert acks[0] == {"status": "ok", "rows": 500, "lsn": acks[0]["lsn"]}
    table = scan(client, name)
    order = np.argsort(table.column("id").to_numpy())
    got = np.stack(table.column("vector").to_numpy(zero_copy_only=False))[order]
    np.testing.assert_array_equal(got, vecs)
    assert [table.column("text")[int(i)].as_py() for i in order[:3]] == texts[:3]
    assert table.schema.field("created_at").type == pa.timestamp("ms", tz="UTC")


def test_upsert_replaces_rows_by_id(client):
    vecs = RNG.random((10, 4), dtype=np.float32)
    do_put(client, "upsert", [make_batch(range(10), vecs, tag=["old"] * 10)])
    do_put(client, "upsert", [make_batch([3, 4], vecs[:2] + 100, tag=["new", "new"])])
    table = scan(client, "upsert").sort_by("id")
    assert table.num_rows == 10
    assert table.column("tag").to_pylist()[3:5] == ["new", "new"]
    hits = search(client, "upsert", vector=(vecs[0] + 100).tolist(), k=1)
    assert hits.column("id").to_pylist() == [3]
    stats = action(client, "get_stats", {"dataset": "upsert"})
    assert stats["datasets"]["upsert"]["records"] == 10
    assert stats["datasets"]["upsert"]["tombstones"] == 2


def test_search_returns_nearest_first_with_distance_and_score(client):
    vecs = RNG.random((200, 8), dtype=np.float32)
    do_put(client, "knn", [make_batch(range(200), vecs, label=[f"l{i}" for i in range(200)])])
    q = vecs[42]
    res = search(client, "knn", vector=q.tolist(), k=5, columns=["label"], include_vectors=True)
    assert res.schema.names == ["query", "id", "distance", "score", "vector", "label"]
    assert res.column("id")[0].as_py() == 42
    d = res.column("distance").to_pylist()
    assert d == sorted(d) and d[0] == pytest.approx(0.0, abs=1e-6)
    exact = np.sqrt(((vecs - q) ** 2).sum(axis=1))
    expected = np.argsort(exact)[:5]
    assert res.column("id").to_pylist() == expected.tolist()
    np.testing.assert_allclose(d, exact[expected], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res.column("score").to_pylist(), 1 / (1 + exact[expected]), rtol=1e-4)
    assert res.column("label").to_pylist()[0] == "l42"
    np.testing.assert_array_equal(np.array(res.column("vector")[0].as_py(), dtype=np.float32), q)


def test_batch_search_and_cosine_metric(client):
    vecs = RNG.standard_normal((300, 12)).astype(np.float32)
    do_put(client, "cos", [make_batch(range(300), vecs, metric="cosine")])
    queries = vecs[[5, 77, 123]] * 3.0  # scaling must not matter for cosine
    res = search(client, "cos", vectors=queries.tolist(), k=3)
    assert res.column("query").to_pylist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    firsts = [res.column("id")[i].as_py() for i in (0, 3, 6)]
    assert firsts == [5, 77, 123]
    assert res.column("score")[0].as_py() == pytest.approx(1.0, abs=1e-5)
    info = client.get_flight_info(flight.FlightDescriptor.for_path("cos"))
    assert info.schema.metadata[b"longbow.metric"] == b"cosine"


def test_rows_are_searchable_as_soon_as_acknowledged(client):
    """No waiting for the index: a row is found by search right after its PutResult."""
    vecs = RNG.random((2000, 32), dtype=np.float32)
    for i in range(0, 2000, 250):
        do_put(client, "fresh", [make_batch(range(i, i + 250), vecs[i : i + 250])])
        probe = i + 249
        res = search(client, "fresh", vector=vecs[probe].tolist(), k=1)
        assert res.column("id").to_pylist() == [probe]


def test_scan_filters_columns_and_limit(client):
    n = 100
    vecs = RNG.random((n, 4), dtype=np.float32)
    do_put(
        client,
        "filtered",
        [make_batch(range(n), vecs, category=[["a", "b", "c"][i % 3] for i in range(n)], price=pa.array(np.arange(n, dtype=np.float64)))],
    )
    t = scan(client, "filtered", filters=[{"field": "category", "op": "=", "value": "b"}, {"field": "price", "op": ">=", "value": 50}])
    ids = t.column("id").to_pylist()
    assert ids == [i for i in range(n) if i % 3 == 1 and i >= 50]
    t = scan(client, "filtered", filters=[{"or": [{"field": "id", "op": "in", "value": [1, 2]}, {"not": {"field": "price", "op": "<", "value": 98}}]}])
    assert sorted(t.column("id").to_pylist()) == [1, 2, 98, 99]
    t = scan(client, "filtered", columns=["id", "category"], limit=7)
    assert t.schema.names == ["id", "category"] and t.num_rows == 7
    t = scan(client, "filtered", columns=["category", "id"], filters=[{"field": "id", "op": "<", "value": 4}])
    assert t.schema.names == ["category", "id"] and t.column("id").to_pylist() == [0, 1, 2, 3]
    res = search(client, "filtered", vector=vecs[0].tolist(), k=5, filters=[{"field": "category", "op": "=", "value": "c"}])
    assert res.num_rows == 5 and all(i % 3 == 2 for i in res.column("id").to_pylist())


def test_list_flights_get_flight_info_then_do_get(node, client, meta):
    vecs = RNG.random((50, 4), dtype=np.float32)
    do_put(client, "listed", [make_batch(range(50), vecs)])
    names = {f.descriptor.path[0].decode() for f in meta.list_flights()}
    assert "listed" in names
    info = meta.get_flight_info(flight.FlightDescriptor.for_path("listed"))
    assert info.total_records == 50 and info.total_bytes > 50 * 4 * 4
    assert info.schema.field("vector").type == pa.list_(pa.float32(), 4)
    endpoint = info.endpoints[0]
    assert endpoint.locations[0].uri.decode() == node.data_uri
    data = flight.connect(endpoint.locations[0])
    table = data.do_get(endpoint.ticket).read_all()
    assert table.num_rows == 50
    schema = meta.get_schema(flight.FlightDescriptor.for_path("listed")).schema
    assert schema.names == ["id", "vector", "created_at"]


def test_actions(client, meta):
    vecs = RNG.random((20, 4), dtype=np.float32)
    do_put(client, "to_drop", [make_batch(range(20), vecs)])
    kinds = {a.type for a in meta.list_actions()}
    assert {"get_stats", "drop_dataset", "delete", "check_readiness"} <= kinds
    stats = action(meta, "get_stats")
    ds = stats["datasets"]["to_drop"]
    assert ds["records"] == 20 and ds["dim"] == 4 and ds["metric"] == "l2"
    assert stats["memory"]["rss_bytes"] > 0 and stats["wal"]["last_lsn"] >= 1
    deleted = action(client, "delete", {"dataset": "to_drop", "ids": [1, 2, 999]})
    assert deleted["deleted"] == 2
    assert sorted(scan(client, "to_drop").column("id").to_pylist()) == [i for i in range(20) if i not in (1, 2)]
    assert 1 not in search(client, "to_drop", vector=vecs[1].tolist(), k=20).column("id").to_pylist()
    dropped = action(meta, "drop_dataset", {"dataset": "to_drop"})
    assert dropped["status"] == "ok"
    with pytest.raises(pa.ArrowKeyError, match="DATASET_NOT_FOUND"):
        scan(client, "to_drop")
    assert "to_drop" not in {f.descriptor.path[0].decode() for f in meta.list_flights()}
    with pytest.raises(pa.ArrowInvalid, match="UNKNOWN_ACTION"):
        action(meta, "no_such_action")
    readiness = action(meta, "check_readiness")
    assert readiness["ready"] is True


def test_health_readiness_and_metrics(node, client):
    do_put(client, "metered", [make_batch(range(5), RNG.random((5, 4), dtype=np.float32))])
    assert node.http_get("/healthz")[0] == 200
    status, body = node.http_get("/readyz")
    assert status == 200 and json.loads(body)["ready"] is True
    status, text = node.http_get("/metrics")
    assert status == 200
    for name in [
        'longbow_wal_writes_total{status="ok"',
        "longbow_wal_bytes_written_total",
        "longbow_wal_fsync_duration_seconds_bucket",
        'longbow_flight_requests_total{method="DoPut",code="OK"',
        'longbow_dataset_records{dataset="metered"',
        "longbow_ingest_rows_total",
        "process_resident_memory_bytes",
    ]:
        assert name in text, name


def test_do_get_on_meta_port_names_the_data_port(meta):
    with pytest.raises(pa.ArrowNotImplementedError, match="not served on this port"):
        meta.do_get(ticket({"dataset": "x"})).read_all()


def test_do_exchange_streams_binary_queries_and_numbers_them(client):
    vecs = RNG.random((500, 8), dtype=np.float32)
    do_put(client, "exchange", [make_batch(range(500), vecs, tag=[f"t{i}" for i in range(500)])])
    command = json.dumps({"search": {"dataset": "exchange", "k": 2, "columns": ["tag"]}}).encode()
    writer, reader = client.do_exchange(flight.FlightDescriptor.for_command(command))
    first = pa.record_batch([vector_array(vecs[[10, 20]])], names=["vector"])
    writer.begin(first.schema)
    writer.write_batch(first)
    writer.write_batch(pa.record_batch([vector_array(vecs[[30]])], names=["vector"]))
    writer.done_writing()
    table = reader.read_all()
    writer.close()
    assert table.column("query").to_pylist() == [0, 0, 1, 1, 2, 2]
    assert [table.column("id")[i].as_py() for i in (0, 2, 4)] == [10, 20, 30]
    assert table.column("tag")[4].as_py() == "t30"
    writer, reader = client.do_exchange(flight.FlightDescriptor.for_command(command))
    wrong = pa.record_batch([vector_array(vecs[:1, :4])], names=["vector"])
    writer.begin(wrong.schema)
    writer.write_batch(wrong)
    writer.done_writing()
    with pytest.raises(pa.ArrowInvalid, match="DIMENSION_MISMATCH"):
        reader.read_all()
