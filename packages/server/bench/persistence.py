"""Persistence benchmark on glove100 (331,479 x 100, cosine): snapshot write time and size,
the event loop's responsiveness while a snapshot is written, and restart time from the
snapshot with the index saved beside it, with it after 1% of the ids were deleted and 1%
upserted (the snapshot drops those rows; the index maps its labels around them), and
without it (ready = snapshot loaded and WAL replayed; caught up = the HNSW graphs loaded,
or rebuilt from the loaded rows).

    .venv/bin/python packages/server/bench/persistence.py [--compression zstd|snappy|none] [--limit N]

Prints JSON and saves it to .bench/persistence-<compression>-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.flight as flight
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "pyarrow"))
from lbutil import action, datasets_dir, do_put, make_batch, read_vecs, search  # noqa: E402
from longbow_harness import REPO, LongbowProcess  # noqa: E402


def wait_caught_up(meta, dataset: str, timeout_s: float = 1800) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        r = action(meta, "check_readiness")
        ds = r["datasets"].get(dataset)
        if r["ready"] and ds and ds["caught_up"]:
            return time.perf_counter() - t0
        time.sleep(0.2)
    raise TimeoutError("index did not catch up")


class Prober(threading.Thread):
    """Calls get_stats every 20 ms and records each call's latency."""

    def __init__(self, uri: str):
        super().__init__(daemon=True)
        self.uri, self.stop_flag, self.latencies_ms = uri, False, []

    def run(self):
        c = flight.connect(self.uri)
        while not self.stop_flag:
            t0 = time.perf_counter()
            action(c, "get_stats", {"dataset": "glove100"})
            self.latencies_ms.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.02)
        c.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--compression", default="zstd", choices=["zstd", "snappy", "none"])
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    base = read_vecs(datasets_dir() / "glove100" / "glove100_base.fvecs")
    queries = read_vecs(datasets_dir() / "glove100" / "glove100_query.fvecs")
    if args.limit:
        base = base[: args.limit]
    root = Path(tempfile.mkdtemp(prefix="longbow-persist-bench-"))
    node = LongbowProcess(
        root / "data",
        env_extra={
            "LONGBOW_SNAPSHOT_INTERVAL": "0",
            "LONGBOW_SNAPSHOT_COMPRESSION": args.compression,
            "LONGBOW_INDEX_WORKERS": "2",
            "LONGBOW_LOG_LEVEL": "info",
        },
    ).start()
    client = flight.connect(node.data_uri)
    meta = flight.connect(node.meta_uri)
    t0 = time.perf_counter()
    rows = 5000
    meta_kv = {"longbow.metric": "cosine"}
    do_put(
        client,
        "glove100",
        (make_batch(range(s, min(s + rows, len(base))), base[s : s + rows]).replace_schema_metadata(meta_kv) for s in range(0, len(base), rows)),
    )
    ingest_s = time.perf_counter() - t0
    wait_caught_up(meta, "glove100")

    prober = Prober(node.meta_uri)
    prober.start()
    time.sleep(0.5)
    baseline = list(prober.latencies_ms)
    t0 = time.perf_counter()
    snap = action(meta, "force_snapshot", {})
    snapshot_s = time.perf_counter() - t0
    during = prober.latencies_ms[len(baseline):]
    prober.stop_flag = True
    prober.join()
    file = root / "data" / "snapshots" / "glove100.parquet"
    size = file.stat().st_size
    assert pq.read_metadata(file).num_rows == len(base)

    hits_before = search(client, "glove100", vector=queries[0].tolist(), k=10).column("id").to_pylist()
    client.close()
    meta.close()
    t0 = time.perf_counter()
    node.stop()
    stop_s = time.perf_counter() - t0

    def restart(hits_ref: list) -> dict:
        t0 = time.perf_counter()
        node.start()
        ready = time.perf_counter() - t0
        m = flight.connect(node.meta_uri)
        caught_up = ready + wait_caught_up(m, "glove100")
        c = flight.connect(node.data_uri)
        hits = search(c, "glove100", vector=queries[0].tolist(), k=10).column("id").to_pylist()
        loaded = [l for l in node.log_lines() if l.get("msg") == "snapshot loaded"][-1]
        replayed = [l for l in node.log_lines() if l.get("msg") == "WAL replayed"][-1]
        c.close()
        m.close()
        node.stop()
        return {
            "index": loaded.get("index"),
            "ready_seconds": round(ready, 2),
            "snapshot_load_seconds": round(loaded["seconds"], 2),
            "wal_entries_replayed": replayed["entries"],
            "index_caught_up_seconds": round(caught_up, 2),
            "same_top10": len(set(hits_ref) & set(hits)),
        }

    saved = [l for l in node.log_lines() if l.get("msg") == "index saved"]
    with_index = restart(hits_before)

    # Tombstones in the snapshot: delete 1% of the ids and upsert another 1% (same vectors,
    # new rows), snapshot, restart. The index is saved with the dropped rows as dead labels.
    node.start()
    client = flight.connect(node.data_uri)
    meta = flight.connect(node.meta_uri)
    rng = np.random.default_rng(7)
    picked = rng.choice(len(base), size=2 * (len(base) // 100), replace=False)
    deleted, upserted = sorted(int(i) for i in picked[: len(picked) // 2]), sorted(int(i) for i in picked[len(picked) // 2 :])
    action(meta, "delete", {"dataset": "glove100", "ids": deleted})
    do_put(client, "glove100", [make_batch(upserted, base[upserted]).replace_schema_metadata(meta_kv)])
    wait_caught_up(meta, "glove100")
    action(meta, "force_snapshot", {})
    saved_tomb = [l for l in node.log_lines() if l.get("msg") == "index saved"][-1]
    hits_tomb = search(client, "glove100", vector=queries[0].tolist(), k=10).column("id").to_pylist()
    client.close()
    meta.close()
    node.stop()
    with_index_tombstones = restart(hits_tomb)
    with_index_tombstones["deleted"] = len(deleted)
    with_index_tombstones["upserted"] = len(upserted)
    with_index_tombstones["index_saved"] = {
        "bytes": saved_tomb["bytes"],
        "seconds": round(saved_tomb["seconds"], 2),
        "dropped_rows": saved_tomb.get("droppedRows"),
    }

    (root / "data" / "snapshots" / "glove100.hnsw").unlink(missing_ok=True)
    without_index = restart(hits_tomb)

    result = {
        "rows": len(base),
        "dim": int(base.shape[1]),
        "compression": args.compression,
        "ingest_seconds": round(ingest_s, 2),
        "snapshot_seconds": round(snapshot_s, 2),
        "snapshot_bytes": size,
        "raw_vector_bytes": int(base.nbytes),
        "snapshot_reported": snap["datasets"][0],
        "event_loop_probe_ms": {
            "baseline_p50": round(float(np.percentile(baseline, 50)), 2) if baseline else None,
            "during_snapshot_p50": round(float(np.percentile(during, 50)), 2) if during else None,
            "during_snapshot_p99": round(float(np.percentile(during, 99)), 2) if during else None,
            "during_snapshot_max": round(max(during), 2) if during else None,
            "probes_during_snapshot": len(during),
        },
        "shutdown_seconds": round(stop_s, 2),
        "index_saved": {"bytes": saved[-1]["bytes"], "seconds": round(saved[-1]["seconds"], 2)} if saved else None,
        "restart_with_saved_index": with_index,
        "restart_with_saved_index_after_deletes_and_upserts": with_index_tombstones,
        "restart_without_saved_index": without_index,
    }
    out = REPO / ".bench" / f"persistence-{args.compression}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
