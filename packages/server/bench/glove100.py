"""glove100 benchmark: ingest, indexing, recall and latency through Flight with pyarrow,
against the same queries on a bare in-process hnswlib-node index (bare-hnswlib.ts).

Starts a node (release settings, its own temp data dir, fsync on), then:
1. loads glove100 base (331,479 x 100, cosine) in batches over one DoPut stream, with
   durable acks: rows/s and MB/s;
2. waits until the index has absorbed everything (check_readiness), probing `get_stats`
   every 20 ms meanwhile: its p99 shows whether the event loop stays responsive;
3. runs the 10,000 held-out queries at each ef of a sweep: recall@10 against the exact
   ground truth, QPS and p50/p99 latency one query per call, and QPS of batch search;
4. at the first ef reaching recall@10 0.95: QPS and p50/p99 with 8 concurrent clients;
5. reports the node's peak RSS (VmHWM);
6. loads the set again into one unsharded graph (time until indexed, 1 shard vs auto);
7. runs bare hnswlib-node in-process with the same M/ef_construction on the same queries:
   the server's batch-search QPS as a fraction of the in-process QPS at the same ef.

Prints a table and saves JSON to .bench/glove100-<time>.json.
Usage: python packages/server/bench/glove100.py [--limit N] [--queries N] [--ef 16,32,...]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.flight as flight

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "test" / "pyarrow"))
import pyarrow as pa  # noqa: E402
from lbutil import action, datasets_dir, make_batch, read_vecs, search, vector_array  # noqa: E402
from longbow_harness import REPO, LongbowProcess  # noqa: E402


def percentile(values, p):
    return float(np.percentile(np.asarray(values), p)) if len(values) else float("nan")


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def load(client, base: np.ndarray, batch_rows: int, dataset: str = "glove100", metadata: dict | None = None) -> dict:
    meta = {"longbow.metric": "cosine", **(metadata or {})}

    def batch(start: int, end: int):
        return make_batch(range(start, end), base[start:end]).replace_schema_metadata(meta)

    first = batch(0, min(batch_rows, len(base)))
    writer, reader = client.do_put(flight.FlightDescriptor.for_path(dataset), first.schema)
    t0 = time.perf_counter()
    acked = 0
    slow_downs = 0
    last_print = t0
    for start in range(0, len(base), batch_rows):
        end = min(start + batch_rows, len(base))
        writer.write_batch(batch(start, end))
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


def wait_indexed(client, meta_uri: str, dataset: str = "glove100") -> dict:
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
        state = action(client, "check_readiness")["datasets"][dataset]
        if state["caught_up"]:
            break
        if time.perf_counter() - last_print > 5:
            print(f"  indexing: {state['indexed']:,}/{state['rows']:,} rows, {state['lag']:,} queued", flush=True)
            last_print = time.perf_counter()
        time.sleep(0.2)
    seconds = time.perf_counter() - t0
    shards = state.get("shards", 1)
    stop.set()
    prober.join(5)
    return {
        "shards": shards,
        "seconds_after_load": seconds,
        "get_stats_calls": len(latencies),
        "get_stats_p50_ms": percentile(latencies, 50) * 1e3,
        "get_stats_p99_ms": percentile(latencies, 99) * 1e3,
        "get_stats_max_ms": max(latencies) * 1e3 if latencies else float("nan"),
    }


def recall_at_10(found: list[list[int]], truth: np.ndarray) -> float:
    hits = sum(len(set(f[:10]) & set(truth[i, :10].tolist())) for i, f in enumerate(found))
    return hits / (len(found) * 10)


def exchange_batches(client, queries: np.ndarray, truth: np.ndarray, ef: int, batch_size: int) -> dict:
    """Batch search the fast way: binary queries over one DoExchange stream."""
    command = json.dumps({"search": {"dataset": "glove100", "k": 10, "ef": ef}}).encode()
    t0 = time.perf_counter()
    writer, reader = client.do_exchange(flight.FlightDescriptor.for_command(command))
    writer.begin(pa.schema([pa.field("vector", pa.list_(pa.float32(), queries.shape[1]))]))
    found: list[list[int]] = [[] for _ in range(len(queries))]
    for i in range(0, len(queries), batch_size):
        writer.write_batch(pa.record_batch([vector_array(queries[i : i + batch_size])], names=["vector"]))
        chunk = reader.read_chunk().data
        for q, hit in zip(chunk.column("query").to_pylist(), chunk.column("id").to_pylist()):
            found[q].append(hit)
    writer.done_writing()
    writer.close()
    seconds = time.perf_counter() - t0
    return {"ef": ef, "recall_at_10": recall_at_10(found, truth), "qps": len(queries) / seconds}


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
    batch_json_s = time.perf_counter() - t0
    batch = exchange_batches(client, queries, truth, ef, batch_size)
    return {
        "ef": ef,
        "recall_at_10": recall_at_10(found, truth),
        "qps_single": len(queries) / single_s,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "qps_batch": batch["qps"],
        "qps_batch_json": len(queries) / batch_json_s,
    }


def plot_sweep(sweep: list[dict], path: Path, rows: int) -> Path:
    """Recall@10 against QPS (single-query and batch), one point per ef."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    recall = [r["recall_at_10"] for r in sweep]
    for key, label in (("qps_single", "one query per call (DoGet)"), ("qps_batch_json", "batch, JSON vectors (DoGet)"), ("qps_batch", "batch, Arrow queries (DoExchange)")):
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


def concurrent_clients(uri: str, queries: np.ndarray, ef: int, clients: int) -> dict:
    """`clients` threads, each with its own connection, one query per call."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(part: np.ndarray):
        c = flight.connect(uri)
        mine = []
        for q in part:
            t = time.perf_counter()
            search(c, "glove100", vector=q.tolist(), k=10, ef=ef)
            mine.append(time.perf_counter() - t)
        c.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(part,)) for part in np.array_split(queries, clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - t0
    return {"clients": clients, "ef": ef, "qps": len(queries) / seconds, "p50_ms": percentile(latencies, 50) * 1e3, "p99_ms": percentile(latencies, 99) * 1e3}


def write_ivecs(path: Path, rows: np.ndarray) -> None:
    rows = np.ascontiguousarray(rows, dtype=np.int32)
    np.hstack([np.full((len(rows), 1), rows.shape[1], np.int32), rows]).tofile(path)


def bare_baseline(base_file: Path, query_file: Path, truth: np.ndarray, efs: str, limit: int, queries: int, work: Path) -> dict:
    truth_file = work / "truth.ivecs"
    write_ivecs(truth_file, truth[:, :10])
    node = REPO / "node_modules" / ".bin" / "node"
    script = HERE / "bare-hnswlib.ts"
    args = [str(node), str(script), str(base_file), str(query_file), str(truth_file), "cosine", "16", "200", efs, str(limit or ""), str(queries)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="load only the first N base rows (recall then uses a recomputed truth)")
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--ef", default="16,32,64,128,256,512")
    ap.add_argument("--batch-rows", type=int, default=10_000)
    ap.add_argument("--batch-queries", type=int, default=500)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--skip-single-shard", action="store_true", help="skip the second load into one graph")
    ap.add_argument("--skip-bare", action="store_true", help="skip the in-process hnswlib-node baseline")
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
                f"p50={r['p50_ms']:.2f}ms p99={r['p99_ms']:.2f}ms batch_qps={r['qps_batch']:.1f} (json {r['qps_batch_json']:.1f})",
                flush=True,
            )
        at_target = [r for r in sweep if r["recall_at_10"] >= 0.95]
        target_ef = at_target[0]["ef"] if at_target else sweep[-1]["ef"]
        concurrent = concurrent_clients(node.data_uri, queries, target_ef, args.clients)
        print(f"  {args.clients} concurrent clients at ef={target_ef}: {concurrent['qps']:.1f} QPS, p50 {concurrent['p50_ms']:.2f} ms, p99 {concurrent['p99_ms']:.2f} ms", flush=True)
        rss = peak_rss_bytes(node.proc.pid)
        single_shard = None
        if not args.skip_single_shard:
            action(client, "drop_dataset", {"dataset": "glove100"})
            t1 = time.perf_counter()
            load(client, base, args.batch_rows, dataset="glove100", metadata={"longbow.index.shard_rows": str(10**9)})
            single_shard = wait_indexed(client, node.meta_uri)
            single_shard["seconds_from_start"] = time.perf_counter() - t1
            print(f"  one shard: indexed {single_shard['seconds_from_start']:.1f} s after the first batch (auto-sharding: {indexing['seconds_from_start']:.1f} s, {indexing['shards']} shards)", flush=True)
            single_shard["sweep"] = []
            for ef in [int(x) for x in args.ef.split(",")]:
                r = exchange_batches(client, queries, truth, ef, args.batch_queries)
                single_shard["sweep"].append(r)
                print(f"  one shard ef={ef:4d} recall@10={r['recall_at_10']:.4f} batch_qps={r['qps']:.1f}", flush=True)
        client.close()
    finally:
        node.stop()
    bare = None
    if not args.skip_bare:
        print("  bare hnswlib-node in-process baseline (same M, ef_construction, queries)...", flush=True)
        bare = bare_baseline(folder / "glove100_base.fvecs", folder / "glove100_query.fvecs", truth, args.ef, args.limit, len(queries), work)
        for b in bare["sweep"]:
            server = next(r for r in sweep if r["ef"] == b["ef"])
            b["server_batch_qps_ratio"] = server["qps_batch"] / b["qps"]
            b["server_single_qps_ratio"] = server["qps_single"] / b["qps"]
            one = next((r for r in (single_shard or {}).get("sweep", []) if r["ef"] == b["ef"]), None)
            if one:
                b["one_shard_batch_qps_ratio"] = one["qps"] / b["qps"]
            print(
                f"  ef={b['ef']:4d} bare recall@10={b['recall_at_10']:.4f} qps={b['qps']:7.1f}  server/bare: batch {b['server_batch_qps_ratio']:.2f}"
                f" (one shard {b.get('one_shard_batch_qps_ratio', float('nan')):.2f}), single {b['server_single_qps_ratio']:.2f}",
                flush=True,
            )
        print(f"  bare build (one thread): {bare['build_seconds']:.1f} s", flush=True)
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
        "concurrent": concurrent,
        "single_shard_indexing": single_shard,
        "bare_hnswlib": bare,
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
