"""moto's DynamoDB with DynamoDB's per-item write guarantee.

moto's DynamoDBBackend checks a write's condition and then applies it with no lock, so two
request threads of one moto server can interleave: both pass `attribute_not_exists`, or one
ADD is lost (seen: 20 concurrent failed sign-ins counted as 19). DynamoDB serializes the
writes to an item, and sessiongate's lockout, email uniqueness and rotation rely on that. So
every moto server sessiongate starts (the local stack, the test suites) serializes moto's
writes with one lock: what concurrent requests then test is sessiongate, not moto.

`python -m local.moto_dynamodb -H 127.0.0.1 -p 5000` runs moto's server with the guarantee.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_lock = threading.RLock()


def serialize_writes() -> None:
    """Make moto's DynamoDB writes atomic per process (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in WRITES:
        original = getattr(DynamoDBBackend, name, None)
        if original is None or getattr(original, "_serialized", False):
            continue
        setattr(DynamoDBBackend, name, _serialized(original))


def _serialized(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return write(*args, **kwargs)

    locked._serialized = True  # type: ignore[attr-defined]
    return locked


@contextlib.contextmanager
def loopback_server() -> Iterator[str]:
    """An in-process moto server on 127.0.0.1 (a free port), writes serialized; yields its URL."""
    from moto.server import ThreadedMotoServer

    serialize_writes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


if __name__ == "__main__":
    from moto.server import main

    serialize_writes()
    main()
