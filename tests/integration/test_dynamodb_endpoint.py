"""The DynamoDB under test (moto, or DynamoDB Local with SESSIONGATE_BACKEND=dynamodb-local) listens on loopback only."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address  # noqa: S104


def test_dynamodb_answers_on_127_0_0_1_only(dynamodb_endpoint: str) -> None:
    url = urlsplit(dynamodb_endpoint)
    assert url.hostname == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", url.port), timeout=2):
        pass
    address = non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback address to try")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other, pytest.raises(OSError):
        other.settimeout(2)
        other.connect((address, url.port))
