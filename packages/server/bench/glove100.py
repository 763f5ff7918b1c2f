"""glove100 benchmark: ingest, indexing, recall and latency through Flight with pyarrow.

Starts a node (release settings, its own temp data dir, fsync on), then:
1. loads glove100 base (331,479 x 100, cosine) in batches over one DoPut stream, with
   durable acks: rows/s and MB/s;
2. waits until the index has absorbed everything (check_readiness), probing `get_stats`
   every 20 ms meanwhile: its p99 shows whether the event loop stays responsive;
3. runs the 10,000 held-out queries at each ef of a sweep: recall@10 against the exact
   ground truth, QPS and p50/p99 latency one query per call, and QPS of batch search;
4. reports the node's peak RSS (VmHWM).

Prints a table and saves JSON to .bench/glove100-<time>.json.
Usage: python packages/server/bench/glove100.py [--limit N] [--queries N] [--ef 16,32,...]
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "pyarrow"))
from lbutil import action, datasets_dir, make_batch, read_vecs, search  # noqa: E402
from longbow_harness import REPO, LongbowProcess  # noqa: E402


def percentile(values, p):
    return float(np.percentile(np.asarray(values), p)) if len(values) else float("nan")


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def load(client, base: np.ndarray, batch_rows: int) -> dict:
    first = make_batch(range(batch_rows), base[:batch_rows], metric="cosine")
    writer, reader = client.do_put(flight.FlightDescriptor.for_path("glove100"), first.schema)
    t0 = time.perf_counter()
    acked = 0
    slow_downs = 0
    last_print = t0
    for start in range(0, len(base), batch_rows):
        end = min(start + batch_rows, len(base))
        writer.write_batch(make_batch(range(start, end), base[start:end], metric="cosine"))
        while True:
            ack = json.loads(reader.read().to_pybytes())
            if ack["status"] == "ok":
                acked += ack["rows"]
                break
            slow_downs += 1
        now = time.perf_counter()
        if now - last_print > 2:
            print(f"  load: {acked:,}/{len(base):,} rows acked, {acked / (now - t0):,.0f} rows/s", flush=True)
            last_print = now
    writer.done_writing()
    writer.close()
    seconds = time.perf_counter() - t0
    mb = base[:acked].nbytes / 1e6
    return {"rows": acked, "seconds": seconds, "rows_per_s": acked / seconds, "mb_per_s": mb / seconds, "slow_downs": slow_downs}


def wait_indexed(client, meta_uri: str) -> dict:
    """Polls check_readiness until caught up while another thread times get_stats calls."""
    latencies = []
    stop = threading.Event()

    def probe():
        c = flight.connect(meta_uri)
        while not stop.is_set():
            t = time.perf_counter()
            action(c, "get_stats")
            latencies.append(time.perf_counter() - t)
            time.sleep(0.02)
        c.close()

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    t0 = time.perf_counter()
    last_print = t0
    while True:
        state = action(client, "check_readiness")["datasets"]["glove100"]
        if state["caught_up"]:
            break
        if time.perf_counter() - last_print > 5:
            print(f"  indexing: {state['indexed']:,}/{state['rows']:,} rows, {state['lag']:,} queued", flush=True)
            last_print = time.perf_counter()
        time.sleep(0.2)
    seconds = time.perf_counter() - t0
    stop.set()
    prober.join(5)
    return {
        "seconds_after_load": seconds,
        "get_stats_calls": len(latencies),
        "get_stats_p50_ms": percentile(latencies, 50) * 1e3,
        "get_stats_p99_ms": percentile(latencies, 99) * 1e3,
        "get_stats_max_ms": max(latencies) * 1e3 if latencies else float("nan"),
    }


def recall_at_10(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f[:10]) & set(truth[i, :10].tolist())) for i, f in enumerate(found))
    return hits / (len(found) * 10)


def run_queries(client, queries: np.ndarray, truth: np.ndarray, ef: int, batch_size: int) -> dict:
    found, latencies = [], []
    t0 = time.perf_counter()
    for q in queries:
        t = time.perf_counter()
        res = search(client, "glove100", vector=q.tolist(), k=10, ef=ef)
        latencies.append(time.perf_counter() - t)
        found.append(res.column("id").to_pylist())
    single_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(0, len(queries), batch_size):
        search(client, "glove100", vectors=queries[i : i + batch_size].tolist(), k=10, ef=ef)
    batch_s = time.perf_counter() - t0
    return {
        "ef": ef,
        "recall_at_10": recall_at_10(found, truth),
        "qps_single": len(queries) / single_s,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "qps_batch": len(queries) / batch_s,
    }


def plot_sweep(sweep: list[dict], path: Path, rows: int) -> Path:
    """Recall@10 against QPS (single-query and batch), one point per ef."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    recall = [r["recall_at_10"] for r in sweep]
    for key, label in (("qps_single", "one query per call"), ("qps_batch", "batch search")):
        ax.plot(recall, [r[key] for r in sweep], marker="o", label=label)
    for r in sweep:
        ax.annotate(f"ef={r['ef']}", (r["recall_at_10"], r["qps_single"]), fontsize=8, textcoords="offset points", xytext=(4, 4))
    ax.axvline(0.95, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second")
    ax.set_yscale("log")
    ax.set_title(f"Longbow on glove100 ({rows:,} x 100, cosine) through pyarrow Flight")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="load only the first N base rows (recall then uses a recomputed truth)")
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--ef", default="16,32,64,128,256,512")
    ap.add_argument("--batch-rows", type=int, default=10_000)
    ap.add_argument("--batch-queries", type=int, default=100)
    args = ap.parse_args()

    folder = datasets_dir() / "glove100"
    base = read_vecs(folder / "glove100_base.fvecs")
    queries = read_vecs(folder / "glove100_query.fvecs")[: args.queries]
    truth = read_vecs(folder / "glove100_groundtruth.ivecs")[: args.queries]
    if args.limit:
        base = base[: args.limit]
        normed = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-12)
        qn = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        truth = np.argsort(-(qn @ normed.T), axis=1)[:, :10]
    print(f"glove100: {len(base):,} x {base.shape[1]} base, {len(queries):,} queries", flush=True)

    work = Path(tempfile.mkdtemp(prefix="longbow-bench-"))
    node = LongbowProcess(work / "data", env_extra={"LONGBOW_INDEX_WORKERS": "2", "LONGBOW_LOG_LEVEL": "warn"}).start()
    try:
        client = flight.connect(node.data_uri)
        t_start = time.perf_counter()
        ingest = load(client, base, args.batch_rows)
        print(f"  ingest: {ingest['rows_per_s']:,.0f} rows/s, {ingest['mb_per_s']:.1f} MB/s (durable acks)", flush=True)
        indexing = wait_indexed(client, node.meta_uri)
        indexing["seconds_from_start"] = time.perf_counter() - t_start
        print(f"  indexed {indexing['seconds_from_start']:.1f} s after the first batch; get_stats p99 {indexing['get_stats_p99_ms']:.1f} ms", flush=True)
        sweep = []
        for ef in [int(x) for x in args.ef.split(",")]:
            r = run_queries(client, queries, truth, ef, args.batch_queries)
            sweep.append(r)
            print(
                f"  ef={ef:4d} recall@10={r['recall_at_10']:.4f} qps={r['qps_single']:7.1f} "
                f"p50={r['p50_ms']:.2f}ms p99={r['p99_ms']:.2f}ms batch_qps={r['qps_batch']:.1f}",
                flush=True,
            )
        rss = peak_rss_bytes(node.proc.pid)
        client.close()
    finally:
        node.stop()
    at_target = [r for r in sweep if r["recall_at_10"] >= 0.95]
    result = {
        "dataset": "glove100",
        "rows": len(base),
        "dim": int(base.shape[1]),
        "queries": len(queries),
        "ingest": ingest,
        "searchable_seconds": ingest["seconds"],
        "indexing": indexing,
        "sweep": sweep,
        "at_recall_0_95": at_target[0] if at_target else None,
        "peak_rss_bytes": rss,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out_dir = REPO / ".bench"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"glove100-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    plot = plot_sweep(sweep, out.with_suffix(".png"), len(base))
    print(f"peak RSS {rss / 2**20:.0f} MiB; saved {out} and {plot}")
    if at_target:
        t = at_target[0]
        print(f"recall@10 >= 0.95 first at ef={t['ef']}: {t['qps_single']:.1f} QPS single, {t['qps_batch']:.1f} QPS batch")
    else:
        print("recall@10 never reached 0.95 in this sweep")
    return 0


if __name__ == "__main__":
    sys.exit(main())
