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
