"""Unit tier: offline by construction. Any attempt to reach the network fails the test
loudly instead of hanging on a timeout or silently talking to a real endpoint."""

from __future__ import annotations

import socket

import pytest


class NetworkDisabled(RuntimeError):
    """Raised by every socket entry point while a unit test runs."""


def _refuse(*args: object, **kwargs: object) -> None:
    raise NetworkDisabled(f"unit tests are offline: network call with {args[1:] or args!r}")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # RuntimeError rather than OSError, so retry loops that swallow OSError cannot hide it.
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
