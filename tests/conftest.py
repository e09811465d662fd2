import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (os.path.join(ROOT, "ports", "cpython"), os.path.join(ROOT, "lib"), HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import mpharness  # noqa: E402


@pytest.fixture(scope="session")
def mp():
    """The MicroPython runner; skips (loudly) only when the interpreter is missing, which CI never allows."""
    if mpharness.micropython_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("micropython interpreter missing in CI")
        pytest.skip("micropython interpreter not installed")
    return mpharness


@pytest.fixture(scope="module")
def charon(tmp_path_factory):
    """A private strongSwan charon on free loopback ports for one test module (tests/ikepeers.py)."""
    import ikepeers
    if not ikepeers.charon_available():
        if os.environ.get("CI"):
            pytest.fail("strongSwan charon missing in CI")
        pytest.skip("strongSwan charon not installed")
    ch = ikepeers.Charon(str(tmp_path_factory.mktemp("charon")))
    ch.start()
    yield ch
    ch.stop()
