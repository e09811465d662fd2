"""Both client engines for client-side tests: TlsClient (microticket.tls.client) and the compact PskClient
(microticket.tls.psk_client). A test module imports ``engine`` and ``pytest_generate_tests`` from here:
every test then runs once per engine (ids ending [TlsClient] / [PskClient]), and ``client_class()`` is
the class of the current run. ``@one_engine(name, reason)`` runs a test with one engine only, the reason
written in (server behaviour, or an option only that engine has)."""

import pytest

from microticket.tls.client import TlsClient
from microticket.tls.psk_client import PskClient

ENGINES = {"TlsClient": TlsClient, "PskClient": PskClient}
_current = [TlsClient]


def client_class():
    """The client engine of the running test."""
    return _current[0]


def one_engine(name, reason):
    """Run a test with the client engine ``name`` only; ``reason`` says why the other needs no run."""
    def mark(fn):
        fn.engines = (name,)
        fn.one_engine_reason = reason
        return fn
    return mark


def pytest_generate_tests(metafunc):
    if "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", getattr(metafunc.function, "engines", tuple(ENGINES)), indirect=True)


@pytest.fixture(autouse=True)
def engine(request):
    _current[0] = ENGINES[request.param]
    yield request.param
    _current[0] = TlsClient
