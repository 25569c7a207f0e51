"""Integration tier: a real moto server on loopback, tables built from template.yaml."""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.template import create_tables, load_template, repo_root
from tests.conftest import TEST_SECRET


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = endpoint
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def template() -> dict:
    return load_template(repo_root() / "template.yaml")


@dataclass
class Tables:
    client: object
    sessions: str
    users: str


@pytest.fixture
def tables(moto_endpoint: str, template: dict) -> Tables:
    """Fresh tables for each test: reset moto, then create them exactly as the template declares."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint)
    names = {"SessionsTable": os.environ["SESSIONS_TABLE"], "UsersTable": os.environ["USERS_TABLE"]}
    create_tables(client, template, names)
    return Tables(client, names["SessionsTable"], names["UsersTable"])


@pytest.fixture(scope="session")
def passwords():
    from sessiongate.passwords import Passwords

    return Passwords()


@pytest.fixture
def settings():
    from sessiongate.config import load_settings

    return load_settings()


@pytest.fixture
def keys(settings):
    from sessiongate.keys import KeyProvider

    return KeyProvider(settings).current()


DEMO_PASSWORD = "correct horse battery staple"


@pytest.fixture
def user(tables: Tables, passwords):
    from sessiongate import sessions

    return sessions.create_user(
        passwords, email="Ada@Example.com", password=DEMO_PASSWORD, name="Ada", role="USER", now=int(time.time())
    )


@pytest.fixture
def issued(user, settings, keys, passwords):
    """A signed-in session of `user` (tokens and ids)."""
    from sessiongate import sessions

    return sessions.sign_in(
        settings,
        keys,
        passwords,
        email=user.email,
        password=DEMO_PASSWORD,
        user_agent="pytest",
        source_ip="127.0.0.1",
        now=int(time.time()),
    )


def raw_session(tables: Tables, session_id: str) -> dict | None:
    return tables.client.get_item(TableName=tables.sessions, Key={"id": {"S": session_id}}, ConsistentRead=True).get(
        "Item"
    )


def set_session_attr(tables: Tables, session_id: str, name: str, number: int) -> None:
    tables.client.update_item(
        TableName=tables.sessions,
        Key={"id": {"S": session_id}},
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": name},
        ExpressionAttributeValues={":v": {"N": str(number)}},
    )


__all__ = ["DEMO_PASSWORD", "TEST_SECRET", "Tables", "raw_session", "set_session_attr"]
