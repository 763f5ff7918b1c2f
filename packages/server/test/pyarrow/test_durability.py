"""Durability as a user sees it: every row acknowledged by a PutResult survives SIGKILL;
torn WAL tails are repaired; corruption stops start-up with the file and offset; drops and
deletes stay done; SIGTERM shuts down cleanly."""
import json
import random
import threading
import time

import numpy as np
import pyarrow.flight as flight
import pytest

from lbutil import action, do_put, make_batch, scan, search

DIM = 16
ROWS_PER_BATCH = 200


def vectors_for(ids) -> np.ndarray:
    """Deterministic vectors per id, so any row can be checked after a restart."""
    ids = np.asarray(list(ids), dtype=np.int64)
    return np.stack([np.random.default_rng(int(i)).random(DIM, dtype=np.float32) for i in ids])


class Streamer(threading.Thread):
    """Streams batches of fresh ids until the node dies; records the acknowledged ids."""

    def __init__(self, uri: str, dataset: str, first_id: int):
        super().__init__(daemon=True)
        self.uri, self.dataset, self.next_id = uri, dataset, first_id
        self.acked: list[int] = []
        self.error: Exception | None = None

    def run(self):
        client = flight.connect(self.uri)
        first = make_batch(range(ROWS_PER_BATCH), vectors_for(range(ROWS_PER_BATCH)))
        writer, reader = client.do_put(flight.FlightDescriptor.for_path(self.dataset), first.schema)
        try:
            while True:
                ids = list(range(self.next_id, self.next_id + ROWS_PER_BATCH))
                writer.write_batch(make_batch(ids, vectors_for(ids)))
                buf = reader.read()
                if buf is None:
                    raise ConnectionError("stream ended")
                ack = json.loads(buf.to_pybytes())
                if ack["status"] == "ok":
                    assert ack["rows"] == ROWS_PER_BATCH
                    self.acked.extend(ids)
                self.next_id += ROWS_PER_BATCH
        except Exception as e:  # noqa: BLE001 - the kill surfaces as any transport error
            self.error = e


def test_acknowledged_rows_survive_sigkill(fresh_node):
    rng = random.Random(1234)
    fresh_node.start()
    acked: set[int] = set()
    next_id = 0
    for cycle in range(3):
        streamer = Streamer(fresh_node.data_uri, "crash", next_id)
        streamer.start()
        target = rng.randint(3, 25) * ROWS_PER_BATCH
        deadline = time.monotonic() + 60
        while len(streamer.acked) < target and time.monotonic() < deadline and streamer.is_alive():
            time.sleep(0.002)
        fresh_node.kill()  # mid-stream: batches in flight are not acknowledged
        streamer.join(10)
        assert streamer.error is not None, "the stream should have been cut by the kill"
        acked.update(streamer.acked)
        next_id = streamer.next_id + ROWS_PER_BATCH * 2
        fresh_node.start()
        client = flight.connect(fresh_node.data_uri)
        ids = scan(client, "crash", columns=["id"]).column("id").to_pylist()
        assert len(ids) == len(set(ids)), "no row may be duplicated by replay"
        missing = acked - set(ids)
        assert not missing, f"cycle {cycle}: {len(missing)} acknowledged rows lost, e.g. {sorted(missing)[:5]}"
        probe = rng.choice(sorted(acked))
        hit = search(client, "crash", vector=vectors_for([probe])[0].tolist(), k=1)
        assert hit.column("id").to_pylist() == [probe]
        client.close()
    replays = [l for l in fresh_node.log_lines() if l.get("msg") == "WAL replayed"]
    assert len(replays) == 4 and replays[-1]["entries"] >= len(acked) // ROWS_PER_BATCH


def wal_segments(node):
    return sorted(node.data_path.glob("wal-*.log"))


def test_torn_tail_is_truncated_and_logged(fresh_node):
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    do_put(client, "torn", [make_batch(range(100), vectors_for(range(100)))])
    do_put(client, "torn", [make_batch(range(100, 200), vectors_for(range(100, 200)))])
    client.close()
    fresh_node.kill()
    seg = wal_segments(fresh_node)[-1]
    size = seg.stat().st_size
    with open(seg, "r+b") as f:  # cut the last entry in half, as a crash mid-write would
        data = f.read()
        f.truncate(size - 500)
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    assert sorted(scan(client, "torn").column("id").to_pylist()) == list(range(100))
    torn = [l for l in fresh_node.log_lines() if l.get("msg") == "WAL torn tail truncated"]
    assert len(torn) == 1 and torn[0]["file"] == str(seg) and torn[0]["offset"] > 0
    # The repaired log takes new writes, and they survive another restart.
    do_put(client, "torn", [make_batch(range(100, 150), vectors_for(range(100, 150)))])
    client.close()
    fresh_node.kill()
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    assert sorted(scan(client, "torn").column("id").to_pylist()) == list(range(150))
    client.close()
    assert len(data) == size


def test_corrupt_entry_stops_start_up_naming_file_and_offset(fresh_node):
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    for i in range(3):
        do_put(client, "corrupt", [make_batch(range(i * 50, i * 50 + 50), vectors_for(range(i * 50, i * 50 + 50)))])
    client.close()
    fresh_node.kill()
    seg = wal_segments(fresh_node)[-1]
    raw = bytearray(seg.read_bytes())
    raw[len(raw) // 2] ^= 0x40  # a flipped bit in the middle entry's record
    seg.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="exited with 1"):
        fresh_node.start(timeout_s=30)
    fatal = [l for l in fresh_node.log_lines() if l.get("level") == "fatal"]
    assert fatal and fatal[-1]["file"] == str(seg)
    assert 0 < fatal[-1]["offset"] < len(raw) // 2
    assert "CRC mismatch" in fatal[-1]["msg"]


def test_drop_and_delete_stay_done_after_crash(fresh_node):
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    do_put(client, "dropme", [make_batch(range(10), vectors_for(range(10)))])
    do_put(client, "keep", [make_batch(range(10), vectors_for(range(10)))])
    action(client, "drop_dataset", {"dataset": "dropme"})
    action(client, "delete", {"dataset": "keep", "ids": [3, 4]})
    client.close()
    fresh_node.kill()
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    names = {f.descriptor.path[0].decode() for f in client.list_flights()}
    assert names == {"keep"}
    assert sorted(scan(client, "keep").column("id").to_pylist()) == [0, 1, 2, 5, 6, 7, 8, 9]
    hits = search(client, "keep", vector=vectors_for([3])[0].tolist(), k=10).column("id").to_pylist()
    assert 3 not in hits and len(hits) == 8
    client.close()


def test_sigterm_is_a_clean_shutdown(fresh_node):
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    do_put(client, "clean", [make_batch(range(10), vectors_for(range(10)))])
    client.close()
    assert fresh_node.stop() == 0
    msgs = [l.get("msg") for l in fresh_node.log_lines()]
    assert "Longbow node stopped" in msgs
    fresh_node.start()
    client = flight.connect(fresh_node.data_uri)
    assert scan(client, "clean").num_rows == 10
    client.close()
