"""Helpers shared by the pyarrow tests: building batches, DoPut with acks, tickets."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight


def vector_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), vectors.shape[1])


def make_batch(ids, vectors: np.ndarray, metric: str | None = None, **columns) -> pa.RecordBatch:
    arrays = [pa.array(ids, pa.int64()) if not isinstance(ids, pa.Array) else ids, vector_array(vectors)]
    names = ["id", "vector"]
    for name, values in columns.items():
        arrays.append(values if isinstance(values, pa.Array) else pa.array(values))
        names.append(name)
    metadata = {"longbow.metric": metric} if metric else None
    return pa.RecordBatch.from_arrays(arrays, names=names, metadata=metadata)


def do_put(client: flight.FlightClient, dataset: str, batches, compression: str | None = None) -> list[dict]:
    """Streams batches to `dataset`, reading the server's PutResult after each batch.

    Returns every PutResult's JSON, in order."""
    batches = list(batches)
    options = None
    if compression:
        options = flight.FlightCallOptions(write_options=pa.ipc.IpcWriteOptions(compression=compression))
    writer, reader = client.do_put(flight.FlightDescriptor.for_path(dataset), batches[0].schema, options=options)
    acks = []
    for b in batches:
        writer.write_batch(b)
        acks.append(json.loads(reader.read().to_pybytes()))
    writer.done_writing()
    while True:
        buf = reader.read()
        if buf is None:
            break
        acks.append(json.loads(buf.to_pybytes()))
    writer.close()
    return acks


def ticket(obj) -> flight.Ticket:
    return flight.Ticket(json.dumps(obj).encode())


def scan(client: flight.FlightClient, dataset: str, **kw) -> pa.Table:
    return client.do_get(ticket({"dataset": dataset, **kw})).read_all()


def search(client: flight.FlightClient, dataset: str, **kw) -> pa.Table:
    return client.do_get(ticket({"search": {"dataset": dataset, **kw}})).read_all()


def action(client: flight.FlightClient, name: str, body: dict | None = None):
    results = list(client.do_action(flight.Action(name, json.dumps(body or {}).encode())))
    return json.loads(results[0].body.to_pybytes())


def datasets_dir() -> Path:
    """Where the shared real datasets live (LONGBOW_DATASETS, default ../shared/datasets)."""
    env = os.environ.get("LONGBOW_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[4].parent / "shared" / "datasets"


def read_vecs(path: Path) -> np.ndarray:
    """TEXMEX .fvecs/.ivecs reader: per record an int32 dimension, then the values."""
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    assert (rows[:, 0] == dim).all(), f"{path} is not a uniform {dim}-d vecs file"
    body = rows[:, 1:].copy()
    return body.view(np.float32) if path.suffix == ".fvecs" else body
