"""The unit tier's network guard itself: if it silently stopped working, every other
unit test could start talking to AWS without anyone noticing."""

from __future__ import annotations

import socket

import pytest

from tests.unit.conftest import NetworkDisabled


def test_socket_connect_is_refused() -> None:
    # Given a plain TCP socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # When it tries to connect, Then the guard refuses before any packet leaves
        with pytest.raises(NetworkDisabled):
            sock.connect(("127.0.0.1", 9))
        with pytest.raises(NetworkDisabled):
            sock.connect_ex(("127.0.0.1", 9))


def test_create_connection_and_dns_are_refused() -> None:
    # Given the helpers HTTP clients use (urllib3, http.client)
    # When they try to resolve or connect, Then the guard refuses
    with pytest.raises(NetworkDisabled):
        socket.create_connection(("dynamodb.us-east-1.amazonaws.com", 443), timeout=1)
    with pytest.raises(NetworkDisabled):
        socket.getaddrinfo("secretsmanager.us-east-1.amazonaws.com", 443)


def test_guard_is_not_an_oserror() -> None:
    # Given botocore and urllib3 retry on OSError
    # Then the guard's error is not one, so a retry loop cannot swallow it
    assert not issubclass(NetworkDisabled, OSError)
