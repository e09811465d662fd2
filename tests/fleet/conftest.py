import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tlspeers  # noqa: E402,F401 (puts tools/ on the path for redispeers)
import redispeers  # noqa: E402


@pytest.fixture(scope="module")
def rds(tmp_path_factory):
    """A redis-server for the test module (see tests/redispeers.py)."""
    if not redispeers.available():
        pytest.skip("redis-server missing")
    d = str(tmp_path_factory.mktemp("redis"))
    box = {"peer": redispeers.start_redis(d), "dir": d}
    yield box
    box["peer"].stop()
