"""Crash-consistency stress: many cycles of ingest, upsert and delete while the node is
SIGKILLed at random moments — often in the middle of a snapshot (a 150 ms snapshot interval
and a small WAL size keep one running most of the time) and of compaction (every 100 ms).
After each restart every acknowledged row must be present with an acknowledged version (or
a later unacknowledged one), every acknowledged delete must hold, and no id may appear twice;
and searches must answer with live rows whose distance from the query is the distance of
the row's own vector (so the HNSW graphs, loaded from a saved index whose labels were mapped
around the rows a snapshot dropped, point at the right rows).

    .venv/bin/python packages/server/test/stress/crash_stress.py --cycles 40

CI runs a short version (test_persistence.py::test_crash_stress_short). Prints one JSON line
with the figures: cycles, rows acknowledged, deletes acknowledged, losses, duplicates, wrong
versions, kills during a snapshot.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pyarrow"))
from lbutil import make_batch, scan, search  # noqa: E402
from longbow_harness import LongbowProcess  # noqa: E402

DIM = 8
BATCH_ROWS = 100
DATASET = "stress"
ID_SPAN = 10_000_000


# What must be zero after every restart.
CHECKS = ("losses", "duplicates", "wrong_versions", "wrong_vectors", "resurrected", "search_mismatches")


def vectors(ids, version: int) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.float32)[:, None]
    return (np.arange(DIM, dtype=np.float32)[None, :] + ids * 0.001 + version).astype(np.float32)


def batch(ids, version: int) -> pa.RecordBatch:
    return make_batch(list(ids), vectors(ids, version), version=pa.array([version] * len(ids), pa.int64()))


@dataclass
class Ledger:
    """What the client knows: per id the acknowledged version and later unacknowledged ones."""

    acked_version: dict[int, int] = field(default_factory=dict)
    pending_versions: dict[int, set[int]] = field(default_factory=dict)
    acked_deleted: set[int] = field(default_factory=set)
    pending_deleted: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Writer(threading.Thread):
    """Streams new rows and upserts of acknowledged ones, and deletes some, until the node dies."""

    def __init__(self, node: LongbowProcess, ledger: Ledger, first_id: int, rng: random.Random):
        super().__init__(daemon=True)
        self.node, self.ledger, self.next_id, self.rng = node, ledger, first_id, rng
        self.first_id = first_id
        self.version = 1

    def run(self):
        try:
            client = flight.connect(self.node.data_uri)
            writer, reader = client.do_put(flight.FlightDescriptor.for_path(DATASET), batch([0], 0).schema)
            while True:
                self.version += 1
                with self.ledger.lock:  # only this writer's ids: its operations are ordered
                    known = [
                        i
                        for i in self.ledger.acked_version
                        if self.first_id <= i < self.first_id + ID_SPAN and i not in self.ledger.acked_deleted
                    ]
                if known and self.rng.random() < 0.3:
                    ids = self.rng.sample(known, min(BATCH_ROWS, len(known)))
                else:
                    ids = list(range(self.next_id, self.next_id + BATCH_ROWS))
                    self.next_id += BATCH_ROWS
                with self.ledger.lock:
                    for i in ids:
                        self.ledger.pending_versions.setdefault(i, set()).add(self.version)
                writer.write_batch(batch(ids, self.version))
                while True:
                    buf = reader.read()
                    if buf is None:
                        raise ConnectionError("stream ended")
                    ack = json.loads(buf.to_pybytes())
                    if ack["status"] == "ok":
                        break
                with self.ledger.lock:
                    for i in ids:
                        self.ledger.pending_versions[i].discard(self.version)
                        if self.ledger.acked_version.get(i, -1) < self.version:
                            self.ledger.acked_version[i] = self.version
                if self.rng.random() < 0.15 and known:
                    victims = self.rng.sample(known, min(5, len(known)))
                    with self.ledger.lock:
                        self.ledger.pending_deleted.update(victims)
                    body = json.dumps({"dataset": DATASET, "ids": victims}).encode()
                    list(client.do_action(flight.Action("delete", body)))
                    with self.ledger.lock:
                        self.ledger.acked_deleted.update(victims)
                        self.ledger.pending_deleted.difference_update(victims)
        except Exception:  # noqa: BLE001 - the kill ends the stream with any transport error
            return


def verify(node: LongbowProcess, ledger: Ledger) -> dict:
    client = flight.connect(node.data_uri)
    try:
        table = scan(client, DATASET, columns=["id", "vector", "version"])
    except flight.FlightError:
        table = None
    client.close()
    found: dict[int, int] = {}
    duplicates = 0
    wrong_vectors = 0
    if table is not None:
        ids = table.column("id").to_pylist()
        versions = table.column("version").to_pylist()
        vecs = table.column("vector").to_pylist()
        for i, v, vec in zip(ids, versions, vecs):
            if i in found:
                duplicates += 1
            found[i] = v
            if vec != vectors([i], v)[0].tolist():
                wrong_vectors += 1
    search_mismatches = check_searches(node, found)
    losses = wrong_versions = resurrected = 0
    with ledger.lock:
        for i, v in ledger.acked_version.items():
            if i in ledger.acked_deleted:  # its writer never touches it again
                if i in found:
                    resurrected += 1
                continue
            if i not in found:
                if i not in ledger.pending_deleted:
                    losses += 1
                continue
            allowed = {v} | {p for p in ledger.pending_versions.get(i, set()) if p > v}
            if found[i] not in allowed:
                wrong_versions += 1
        # Accept what the node holds as the new acknowledged state (pending writes resolved).
        for i in list(ledger.acked_version):
            if i in found:
                ledger.acked_version[i] = found[i]
            elif i in ledger.pending_deleted:
                ledger.acked_deleted.add(i)
        for i, v in found.items():
            ledger.acked_version.setdefault(i, v)
        ledger.pending_versions.clear()
        ledger.pending_deleted.clear()
    return {
        "rows_found": len(found),
        "losses": losses,
        "duplicates": duplicates,
        "wrong_versions": wrong_versions,
        "wrong_vectors": wrong_vectors,
        "resurrected": resurrected,
        "search_mismatches": search_mismatches,
    }


def check_searches(node: LongbowProcess, found: dict[int, int], probes: int = 25) -> int:
    """Searches for the vectors of up to `probes` live rows; counts answers that name a row
    not live, or whose distance (from the graph, l2) is not the distance to that row's own
    vector — what a wrong label-to-row mapping would produce."""
    if not found:
        return 0
    ids = sorted(found)
    step = max(1, len(ids) // probes)
    client = flight.connect(node.data_uri)
    bad = 0
    try:
        for i in ids[::step][:probes]:
            q = vectors([i], found[i])[0]
            t = search(client, DATASET, vector=q.tolist(), k=5, ef=128, include_vectors=True)
            for rid, dist, vec in zip(
                t.column("id").to_pylist(), t.column("distance").to_pylist(), t.column("vector").to_pylist()
            ):
                own = float(np.linalg.norm(q - np.asarray(vec, dtype=np.float32)))
                if rid not in found or abs(dist - own) > 1e-3 * max(1.0, own):
                    bad += 1
    finally:
        client.close()
    return bad


def run(cycles: int, seed: int = 7, workdir: Path | None = None, writers: int = 2, max_run_s: float = 2.5) -> dict:
    rng = random.Random(seed)
    root = Path(workdir or tempfile.mkdtemp(prefix="longbow-stress-"))
    node = LongbowProcess(
        root / "data",
        env_extra={
            "LONGBOW_SNAPSHOT_INTERVAL": "150ms",
            "LONGBOW_MAX_WAL_SIZE": "512KB",
            "LONGBOW_WAL_SEGMENT_SIZE": "1MiB",
            "LONGBOW_COMPACTION_INTERVAL": "100ms",
            "LONGBOW_LOG_LEVEL": "debug",
        },
    )
    ledger = Ledger()
    totals = {"cycles": 0, "losses": 0, "duplicates": 0, "wrong_versions": 0, "wrong_vectors": 0, "resurrected": 0,
              "search_mismatches": 0, "kills_during_snapshot": 0}
    next_id = 0
    started = time.monotonic()
    for cycle in range(cycles):
        node.start()
        if cycle > 0:
            result = verify(node, ledger)
            for k in CHECKS:
                totals[k] += result[k]
        ws = []
        for _ in range(writers):
            w = Writer(node, ledger, next_id, random.Random(rng.random()))
            next_id += ID_SPAN
            w.start()
            ws.append(w)
        time.sleep(rng.uniform(0.2, max_run_s))
        node.kill()
        for w in ws:
            w.join(10)
        # A kill during a snapshot: this run's last snapshot line is a start without its end.
        snap = [l.get("msg") for l in node.log_lines() if l.get("msg") in ("snapshot started", "snapshot written")]
        if snap and snap[-1] == "snapshot started":
            totals["kills_during_snapshot"] += 1
        totals["cycles"] += 1
    node.start()
    result = verify(node, ledger)
    for k in CHECKS:
        totals[k] += result[k]
    node.stop()
    snapshots = sum(1 for l in node.log_lines() if l.get("msg") == "snapshot written")
    loaded = sum(1 for l in node.log_lines() if l.get("msg") == "snapshot loaded" and l.get("index") == "loaded")
    totals.update(
        {
            "rows_acknowledged": len(ledger.acked_version),
            "rows_live_at_end": result["rows_found"],
            "deletes_acknowledged": len(ledger.acked_deleted),
            "snapshots_written": snapshots,
            "restarts_with_saved_index": loaded,
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--writers", type=int, default=2)
    args = ap.parse_args()
    result = run(args.cycles, args.seed, writers=args.writers)
    print(json.dumps(result))
    bad = sum(result[k] for k in CHECKS)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
