import sys
from pathlib import Path

import pyarrow.flight as flight
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from longbow_harness import LongbowProcess  # noqa: E402


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node shared by a test module (tests use distinct dataset names)."""
    proc = LongbowProcess(tmp_path_factory.mktemp("node") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_node(tmp_path):
    """A node of its own, for tests that kill or restart it."""
    proc = LongbowProcess(tmp_path / "data")
    yield proc
    proc.kill()


@pytest.fixture
def client(node):
    c = flight.connect(node.data_uri)
    yield c
    c.close()


@pytest.fixture
def meta(node):
    c = flight.connect(node.meta_uri)
    yield c
    c.close()
