"""Starts and stops real Longbow nodes for the pyarrow test suite.

A node runs as its own process (the `longbow serve` bin under the repository's Node 24),
on free loopback ports with its own data directory, and is stopped by its pid.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
NODE = REPO / "node_modules" / ".bin" / "node"
BIN = REPO / "packages" / "server" / "bin" / "longbow.js"


def _test_port_pool() -> range:
    """Ports outside the kernel's ephemeral range (as @longbow/testkit's `testPortPool`).

    A port from `bind(0)` lies in the ephemeral range, where any outgoing connection on
    the machine may take it before our server binds; below (or above) that range only an
    explicit bind can land.
    """
    try:
        lo, hi = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    if lo - 1 - 10000 >= 1000:
        return range(10000, lo)
    return range(hi + 1, 65536)


_POOL = _test_port_pool()
_handed_out: set[int] = set()
_cursor = random.randrange(len(_POOL))


def _can_bind(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port free for TCP and UDP now, outside the ephemeral range, never one
    this process returned before (the caller binds it soon after)."""
    global _cursor
    for _ in range(len(_POOL)):
        port = _POOL[_cursor % len(_POOL)]
        _cursor += 1
        if port in _handed_out:
            continue
        if _can_bind(port, socket.SOCK_STREAM) and _can_bind(port, socket.SOCK_DGRAM):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {_POOL.start}-{_POOL.stop - 1}")


@dataclass
class LongbowProcess:
    """One node process. `data_path` survives restarts, so a test can kill and restart."""

    data_path: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    data_port: int = field(default_factory=free_port)
    meta_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def data_uri(self) -> str:
        return f"grpc+tcp://127.0.0.1:{self.data_port}"

    @property
    def meta_uri(self) -> str:
        return f"grpc+tcp://127.0.0.1:{self.meta_port}"

    def start(self, wait: bool = True, timeout_s: float = 60) -> "LongbowProcess":
        env = dict(os.environ)
        env.update(
            {
                "LONGBOW_LISTEN_ADDR": f"127.0.0.1:{self.data_port}",
                "LONGBOW_META_ADDR": f"127.0.0.1:{self.meta_port}",
                "LONGBOW_METRICS_ADDR": f"127.0.0.1:{self.http_port}",
                "LONGBOW_DATA_PATH": str(self.data_path),
                "LONGBOW_SNAPSHOT_PATH": str(self.data_path / "snapshots"),
                "LONGBOW_NODE_ID": "pytest",
                "LONGBOW_INDEX_WORKERS": "1",
            }
        )
        env.update(self.env_extra)
        self.log_path = self.data_path.parent / f"{self.data_path.name}-node.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(NODE), str(BIN), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready(timeout_s)
        return self

    def http_get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if self.http_get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"node not ready after {timeout_s}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush: what a crash looks like."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM and wait: the graceful path. Returns the exit code."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                return self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                raise
        return self.proc.returncode if self.proc else 0

    def log_tail(self, n: int = 20) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def log_lines(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines() if self.log_path else []:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return out
