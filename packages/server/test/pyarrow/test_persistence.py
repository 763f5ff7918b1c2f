"""Persistence as a user sees it: snapshot files that pyarrow.parquet and DuckDB read with
the values sent; SIGKILL after a snapshot loses nothing acknowledged; SIGTERM takes a final
snapshot and truncates the WAL; SIGHUP reloads the memory limit and snapshot interval from
.env; the memory limit and WAL back-pressure answers; snapshot metrics; a corrupt snapshot
stops start-up naming the file."""
import json
import os
import signal
import threading
import time

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest

from lbutil import action, do_put, make_batch, scan

DIM = 12


def vectors_for(ids, version: int = 0) -> np.ndarray:
    ids = list(ids)
    rng = np.random.default_rng(version)
    base = rng.random(DIM, dtype=np.float32)
    return np.stack([base * (i % 97 + 1) + np.float32(i) / 7 for i in ids]).astype(np.float32)


def rich_batch(ids, version: int = 0) -> pa.RecordBatch:
    ids = list(ids)
    return make_batch(
        ids,
        vectors_for(ids, version),
        metric="cosine",
        title=pa.array([f"doc {i} v{version}" if i % 4 else None for i in ids], pa.string()),
        score=pa.array([i * 0.25 + version for i in ids], pa.float64()),
        tags=pa.array([[f"t{i % 3}", "all"] for i in ids], pa.list_(pa.string())),
    )


def put_error(client, dataset: str, batch: pa.RecordBatch) -> Exception:
    """A DoPut expected to fail; returns the exception (whichever Flight error type)."""
    writer, reader = client.do_put(flight.FlightDescriptor.for_path(dataset), batch.schema)
    try:
        writer.write_batch(batch)
        reader.read()
        writer.done_writing()
        writer.close()
    except Exception as e:  # noqa: BLE001 - the caller checks the message
        return e
    raise AssertionError(f"DoPut to {dataset} succeeded")


def snapshot_file(node, dataset: str):
    return node.data_path / "snapshots" / f"{dataset}.parquet"


def wal_files(node) -> list[str]:
    return sorted(p.name for p in node.data_path.glob("wal-*.log"))


def test_snapshot_files_are_read_by_pyarrow_and_duckdb_with_the_values_sent(fresh_node):
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    meta = flight.connect(fresh_node.meta_uri)
    do_put(client, "docs", [rich_batch(range(0, 400)), rich_batch(range(400, 800))])
    do_put(client, "docs", [rich_batch(range(0, 50), version=1)])  # upserts
    action(meta, "delete", {"dataset": "docs", "ids": list(range(100, 110))})
    res = action(meta, "force_snapshot", {"dataset": "docs"})
    assert res["status"] == "ok" and res["datasets"][0]["rows"] == 790
    path = snapshot_file(fresh_node, "docs")

    table = pq.read_table(path)
    assert table.schema.names[:4] == ["id", "vector", "metadata", "created_at"]
    vtype = table.schema.field("vector").type
    assert pa.types.is_fixed_size_list(vtype) and vtype.list_size == DIM and vtype.value_type == pa.float32()
    assert table.schema.field("created_at").type == pa.timestamp("ms", tz="UTC")
    assert pq.read_metadata(path).metadata[b"longbow.lsn"] == str(res["lsn"]).encode()
    rows = {r["id"]: r for r in table.to_pylist()}
    expected_ids = [i for i in range(800) if not 100 <= i < 110]
    assert sorted(rows) == expected_ids
    for i in (0, 49, 50, 399, 777):
        version = 1 if i < 50 else 0
        assert rows[i]["vector"] == vectors_for([i], version)[0].tolist()
        assert rows[i]["title"] == (f"doc {i} v{version}" if i % 4 else None)
        assert rows[i]["score"] == i * 0.25 + version
        assert rows[i]["tags"] == [f"t{i % 3}", "all"]
        assert rows[i]["metadata"] is None

    con = duckdb.connect()
    n, total, v0 = con.execute(
        f"SELECT count(*), sum(score), (SELECT vector FROM '{path}' WHERE id = 7) FROM '{path}'"
    ).fetchone()
    assert n == 790
    assert total == pytest.approx(sum(i * 0.25 + (1 if i < 50 else 0) for i in expected_ids))
    assert v0 == pytest.approx(vectors_for([7], 1)[0].tolist())
    kv = dict(con.execute(f"SELECT decode(key), decode(value) FROM parquet_kv_metadata('{path}')").fetchall())
    assert json.loads(kv["longbow.dataset"])["dim"] == DIM

    # query_analytics answers from the same file.
    out = action(meta, "query_analytics", {"dataset": "docs", "query": "SELECT count(*) AS n, max(score) AS hi FROM docs"})
    assert out["rows"] == [{"n": 790, "hi": 799 * 0.25}]
    client.close()
    meta.close()


def test_sigkill_after_a_snapshot_loses_nothing_acknowledged(fresh_node):
    fresh_node.env_extra["LONGBOW_WAL_SEGMENT_SIZE"] = "1MiB"
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    meta = flight.connect(fresh_node.meta_uri)
    for k in range(8):
        do_put(client, "k", [rich_batch(range(k * 1000, (k + 1) * 1000), version=v) for v in range(3)])
    before = len(wal_files(fresh_node))
    res = action(meta, "force_snapshot", {})
    assert res["wal_segments_removed"] >= 1 and len(wal_files(fresh_node)) < before
    do_put(client, "k", [rich_batch(range(8000, 8500))])  # only in the WAL
    action(meta, "delete", {"dataset": "k", "ids": [1, 8001]})
    client.close()
    meta.close()
    fresh_node.kill()
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    ids = sorted(scan(client, "k", columns=["id"]).column("id").to_pylist())
    assert ids == [i for i in range(8500) if i not in (1, 8001)]
    replayed = [l for l in fresh_node.log_lines() if l.get("msg") == "WAL replayed"][-1]
    assert replayed["entries"] == 2, replayed  # the put and the delete after the snapshot
    client.close()


def test_sigterm_takes_a_final_snapshot_and_truncates_the_wal(fresh_node):
    fresh_node.env_extra["LONGBOW_WAL_SEGMENT_SIZE"] = "1MiB"
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    for k in range(6):
        do_put(client, "fin", [rich_batch(range(k * 1000, (k + 1) * 1000), version=v) for v in range(3)])
    client.close()
    assert len(wal_files(fresh_node)) >= 2
    t0 = time.monotonic()
    assert fresh_node.stop() == 0
    assert time.monotonic() - t0 < 20
    msgs = [l.get("msg") for l in fresh_node.log_lines()]
    assert "shutdown snapshot taken" in msgs and "Longbow node stopped" in msgs
    assert pq.read_metadata(snapshot_file(fresh_node, "fin")).num_rows == 6000
    assert len(wal_files(fresh_node)) == 1
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    assert scan(client, "fin", columns=["id"]).num_rows == 6000
    replayed = [l for l in fresh_node.log_lines() if l.get("msg") == "WAL replayed"][-1]
    assert replayed["entries"] == 0
    client.close()


def test_sighup_reloads_memory_limit_and_snapshot_interval(fresh_node, tmp_path):
    env_file = tmp_path / "node.env"
    env_file.write_text("LONGBOW_SNAPSHOT_INTERVAL=0\n")
    fresh_node.env_extra["LONGBOW_ENV_FILE"] = str(env_file)
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    do_put(client, "hup", [rich_batch(range(100))])
    env_file.write_text("LONGBOW_MAX_MEMORY=1000\nLONGBOW_SNAPSHOT_INTERVAL=500ms\n")
    os.kill(fresh_node.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = fresh_node.log_lines()
        if any(l.get("msg") == "Configuration reloaded" for l in lines):
            break
        time.sleep(0.05)
    msgs = [l.get("msg") for l in lines]
    assert "Received SIGHUP, reloading configuration" in msgs
    reloaded = next(l for l in lines if l.get("msg") == "Configuration reloaded")
    assert reloaded["maxMemoryBytes"] == 1000 and reloaded["snapshotIntervalMs"] == 500
    err = str(put_error(client, "hup", rich_batch(range(100, 200))))
    assert "resource exhausted" in err and "MEMORY_LIMIT" in err and "LONGBOW_MAX_MEMORY is 1000" in err
    deadline = time.monotonic() + 10
    while not snapshot_file(fresh_node, "hup").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pq.read_metadata(snapshot_file(fresh_node, "hup")).num_rows == 100
    client.close()


def test_memory_limit_refuses_writes_and_keeps_acknowledged_rows(fresh_node):
    fresh_node.env_extra["LONGBOW_MAX_MEMORY"] = "200KB"
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    acked = 0
    for k in range(100):
        batch = rich_batch(range(k * 500, (k + 1) * 500))
        try:
            do_put(client, "mem", [batch])
        except Exception:  # noqa: BLE001 - the limit; put_error below reads its message
            break
        acked += 500
    msg = str(put_error(client, "mem", batch))
    assert "resource exhausted" in msg
    assert "MEMORY_LIMIT: memory limit reached: datasets hold" in msg and "LONGBOW_MAX_MEMORY is 200000" in msg
    assert 0 < acked < 50_000
    assert scan(client, "mem", columns=["id"]).num_rows == acked
    client.close()


def test_slow_down_when_the_wal_queue_is_nearly_full(fresh_node):
    fresh_node.env_extra.update({"LONGBOW_WAL_QUEUE_SIZE": "1MiB", "LONGBOW_MAX_MESSAGE_SIZE": "1MiB"})
    fresh_node.start()
    # Four streams of ~260 KB batches: four of them fill the 1 MiB queue while one fsync runs.
    results: dict[int, list[dict]] = {}

    def stream(s: int):
        client = flight.connect(fresh_node.data_uri)
        batches = [
            make_batch(list(range(s * 1_000_000 + k * 4000, s * 1_000_000 + (k + 1) * 4000)), np.ones((4000, 16), np.float32))
            for k in range(25)
        ]
        writer, reader = client.do_put(flight.FlightDescriptor.for_path("slow"), batches[0].schema)
        for b in batches:
            writer.write_batch(b)
        writer.done_writing()
        acks = []
        while (buf := reader.read()) is not None:
            acks.append(json.loads(buf.to_pybytes()))
        writer.close()
        client.close()
        results[s] = acks

    threads = [threading.Thread(target=stream, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    acks = [a for s in range(4) for a in results[s]]
    assert sum(1 for a in acks if a["status"] == "ok") == 100
    slow = [a for a in acks if a["status"] == "slow_down"]
    assert slow, "no slow_down with a 1 MiB WAL queue"
    assert all(a["reason"] == "wal_pressure" and a["queue_fill"] > 0.8 for a in slow)
    client = flight.connect(fresh_node.data_uri)
    assert scan(client, "slow", columns=["id"]).num_rows == 400_000
    client.close()


def test_snapshot_metrics(fresh_node):
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    do_put(client, "m", [rich_batch(range(10))])
    action(client, "force_snapshot", {})
    _, text = fresh_node.http_get("/metrics")
    ok = [l for l in text.splitlines() if l.startswith("longbow_snapshot_operations_total") and 'status="ok"' in l]
    assert ok and float(ok[0].split()[-1]) == 1
    count = [l for l in text.splitlines() if l.startswith("longbow_snapshot_duration_seconds_count")]
    assert count and float(count[0].split()[-1]) == 1
    client.close()


def test_corrupt_snapshot_stops_start_up_naming_the_file(fresh_node):
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    do_put(client, "bad", [rich_batch(range(3000))])
    client.close()
    assert fresh_node.stop() == 0
    path = snapshot_file(fresh_node, "bad")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    fresh_node.start(wait=False)
    assert fresh_node.proc.wait(30) == 1
    fatal = [l for l in fresh_node.log_lines() if l.get("level") in (60, "fatal")][-1]
    assert fatal["file"] == str(path)
    assert "corrupt or unreadable" in fatal["msg"]


def test_crash_stress_short(tmp_path):
    """The crash-consistency stress script, CI-sized: SIGKILL at random moments (snapshots
    every 150 ms, compaction every 100 ms), then every acknowledged row must be back."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stress"))
    from crash_stress import CHECKS, run

    result = run(cycles=4, seed=11, workdir=tmp_path)
    assert result["cycles"] == 4 and result["rows_acknowledged"] > 1000, result
    assert result["snapshots_written"] >= 2, result
    for k in CHECKS:
        assert result[k] == 0, result
