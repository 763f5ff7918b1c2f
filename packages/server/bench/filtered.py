"""Filtered k-NN on glove100 through pyarrow: recall@10 against the exact answer within the
filter, and single-query QPS and latency, for filters of several selectivities and column
kinds, beside unfiltered search in the same run.

Loads glove100 base (331,479 x 100, cosine) with two attribute columns — `bucket`
(int32, id % 100) and `color` (utf8, one of 10 names by id % 10) — waits until indexed,
then for each filter runs the first N held-out queries (default 1,000) at one ef. The exact
answer is computed with numpy over the rows the filter admits. Filters admitting at most
LONGBOW_FILTER_BRUTE_FORCE_ROWS rows (5,000) are searched exactly by the server; larger
ones go through the HNSW graphs with the row set as an allow-list.

    .venv/bin/python packages/server/bench/filtered.py [--queries N] [--ef 128] [--limit N]

Prints a table and saves JSON to .bench/filtered-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "pyarrow"))
sys.path.insert(0, str(HERE))
from glove100 import percentile, wait_indexed  # noqa: E402
from lbutil import datasets_dir, make_batch, read_vecs, search  # noqa: E402
from longbow_harness import REPO, LongbowProcess  # noqa: E402

COLORS = ["red", "green", "blue", "cyan", "magenta", "yellow", "black", "white", "orange", "violet"]


def load(client, base: np.ndarray, rows: int = 5000) -> float:
    meta = {"longbow.metric": "cosine"}

    def batch(start: int, end: int) -> pa.RecordBatch:
        ids = np.arange(start, end)
        return make_batch(
            range(start, end),
            base[start:end],
            bucket=pa.array(ids % 100, pa.int32()),
            color=pa.array([COLORS[i % 10] for i in ids], pa.string()),
        ).replace_schema_metadata(meta)

    first = batch(0, min(rows, len(base)))
    writer, reader = client.do_put(flight.FlightDescriptor.for_path("glove100"), first.schema)
    t0 = time.perf_counter()
    writer.write_batch(first)
    for start in range(rows, len(base), rows):
        writer.write_batch(batch(start, min(start + rows, len(base))))
    writer.done_writing()
    while reader.read() is not None:
        pass
    writer.close()
    return time.perf_counter() - t0


def exact_top10(base_norm: np.ndarray, allowed: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    """For each query, the ids of the 10 most cosine-similar allowed rows."""
    sub = base_norm[allowed]
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    out: list[list[int]] = []
    for i in range(0, len(qn), 100):
        sims = sub @ qn[i : i + 100].T  # rows x queries
        top = np.argpartition(-sims, 10, axis=0)[:10]
        for j in range(top.shape[1]):
            cand = top[:, j]
            out.append(allowed[cand[np.argsort(-sims[cand, j])]].tolist())
    return out


def run(client, queries: np.ndarray, ef: int, filters: list | None, truth: list[list[int]]) -> dict:
    latencies, hits = [], 0
    t0 = time.perf_counter()
    for q, want in zip(queries, truth):
        kw = {"vector": q.tolist(), "k": 10, "ef": ef}
        if filters is not None:
            kw["filters"] = filters
        t = time.perf_counter()
        got = search(client, "glove100", **kw).column("id").to_pylist()
        latencies.append(time.perf_counter() - t)
        hits += len(set(got) & set(want))
    seconds = time.perf_counter() - t0
    return {
        "recall_at_10": hits / (10 * len(queries)),
        "qps": len(queries) / seconds,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ef", type=int, default=128)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    base = read_vecs(datasets_dir() / "glove100" / "glove100_base.fvecs")
    queries = read_vecs(datasets_dir() / "glove100" / "glove100_query.fvecs")[: args.queries]
    if args.limit:
        base = base[: args.limit]
    n = len(base)
    ids = np.arange(n)
    base_norm = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-12)
    cases = [
        ("none", None, ids),
        ("bucket < 30 (int32, 30%)", [{"field": "bucket", "op": "<", "value": 30}], ids[ids % 100 < 30]),
        ("color = \"blue\" (utf8, 10%)", [{"field": "color", "op": "=", "value": "blue"}], ids[ids % 10 == 2]),
        (
            "bucket < 50 and color != \"red\" (45%)",
            [{"field": "bucket", "op": "<", "value": 50}, {"field": "color", "op": "!=", "value": "red"}],
            ids[(ids % 100 < 50) & (ids % 10 != 0)],
        ),
        ("bucket = 7 (int32, 1%: exact path)", [{"field": "bucket", "op": "=", "value": 7}], ids[ids % 100 == 7]),
    ]
    print(f"exact answers for {len(queries)} queries x {len(cases)} filters over {n:,} rows...", flush=True)
    truths = {name: exact_top10(base_norm, allowed, queries) for name, _, allowed in cases}

    work = Path(tempfile.mkdtemp(prefix="longbow-filtered-bench-"))
    node = LongbowProcess(work / "data", env_extra={"LONGBOW_LOG_LEVEL": "warn", "LONGBOW_SNAPSHOT_INTERVAL": "0"}).start()
    try:
        client = flight.connect(node.data_uri)
        print(f"loading {n:,} rows...", flush=True)
        load_s = load(client, base)
        print(f"  loaded in {load_s:.1f} s; indexing...", flush=True)
        indexed = wait_indexed(client, node.meta_uri)
        results = []
        for name, filters, allowed in cases:
            r = run(client, queries, args.ef, filters, truths[name])
            r.update({"filter": name, "rows_admitted": int(len(allowed))})
            results.append(r)
            print(
                f"  {name:42} recall@10 {r['recall_at_10']:.4f}  {r['qps']:7.1f} QPS  "
                f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms",
                flush=True,
            )
        client.close()
    finally:
        node.stop()
    out = REPO / ".bench" / f"filtered-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"rows": n, "queries": len(queries), "ef": args.ef, "load_seconds": load_s, "indexed": indexed, "results": results},
            indent=2,
        )
    )
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
