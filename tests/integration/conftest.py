"""Integration tier: a real DynamoDB on loopback, tables built from template.yaml.

The DynamoDB is moto's server (default) or AWS's DynamoDB Local with
SESSIONGATE_BACKEND=dynamodb-local (`make test-ddblocal`). Secrets Manager is
always moto's.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from local.config import BACKENDS
from local.moto_dynamodb import loopback_server
from local.template import create_tables, load_template, repo_root
from tests.conftest import TEST_SECRET

BACKEND = os.environ.get("SESSIONGATE_BACKEND") or "moto"
if BACKEND not in BACKENDS:
    raise pytest.UsageError(f"SESSIONGATE_BACKEND={BACKEND!r}: expected one of {', '.join(BACKENDS)}")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on loopback: Secrets Manager always; DynamoDB too unless the backend is DynamoDB Local."""
    with loopback_server() as endpoint:
        if BACKEND == "moto":
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = endpoint
        yield endpoint


@pytest.fixture(scope="session")
def dynamodb_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """The DynamoDB under test (SESSIONGATE_BACKEND), with AWS_ENDPOINT_URL_DYNAMODB pointing at it."""
    if BACKEND == "moto":
        yield request.getfixturevalue("moto_endpoint")
        return
    from local.dynamodb_local import DynamoDBLocal, DynamoDBLocalError

    ddb = DynamoDBLocal()
    try:
        endpoint = ddb.start()
    except DynamoDBLocalError as exc:
        pytest.fail(f"SESSIONGATE_BACKEND=dynamodb-local: {exc}", pytrace=False)
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    try:
        yield endpoint
    finally:
        ddb.stop()  # by PID, at the end of the session


@pytest.fixture(scope="session")
def template() -> dict:
    return load_template(repo_root() / "template.yaml")


@dataclass
class Tables:
    client: object
    sessions: str
    users: str


@pytest.fixture
def tables(dynamodb_endpoint: str, template: dict) -> Tables:
    """Fresh tables for each test, created exactly as the template declares: on moto after its reset API,
    on DynamoDB Local (which has no reset) after deleting every table."""
    client = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint)
    if BACKEND == "moto":
        urllib.request.urlopen(urllib.request.Request(f"{dynamodb_endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    else:
        for name in client.list_tables()["TableNames"]:  # a test session makes two tables: one page
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    names = {"SessionsTable": os.environ["SESSIONS_TABLE"], "UsersTable": os.environ["USERS_TABLE"]}
    create_tables(client, template, names)
    return Tables(client, names["SessionsTable"], names["UsersTable"])


@pytest.fixture
def expired_rows_stay(tables: Tables) -> None:
    """Rows written already expired stay until something deletes them, as on moto (which never runs TTL) and,
    for days, on AWS. DynamoDB Local's TTL deletes expired items within about a second: there, this switches
    TTL off on both tables for the test (the next test gets them recreated with TTL on)."""
    if BACKEND == "dynamodb-local":
        for name in (tables.sessions, tables.users):
            tables.client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires"}
            )


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


def sign_in_as(
    user,
    settings,
    keys,
    passwords,
    *,
    now: int | None = None,
    user_agent: str | None = "pytest",
    source_ip: str | None = "127.0.0.1",
):
    """`user` signs in with the demo password, through the domain (no handler): its IssuedTokens."""
    from sessiongate import sessions

    return sessions.sign_in(
        settings,
        keys,
        passwords,
        email=user.email,
        password=DEMO_PASSWORD,
        user_agent=user_agent,
        source_ip=source_ip,
        now=int(time.time()) if now is None else now,
    )


@pytest.fixture
def issued(user, settings, keys, passwords):
    """A signed-in session of `user` (tokens and ids)."""
    return sign_in_as(user, settings, keys, passwords)


def open_sessions(settings, keys, passwords, user, count: int, *, agent: str | None = None, start: int | None = None):
    """Sign `user` in `count` times (createdAt one second apart when `start` is given)."""
    now = int(time.time())
    return [
        sign_in_as(
            user,
            settings,
            keys,
            passwords,
            now=now if start is None else start + i,
            user_agent=agent,
            source_ip="127.0.0.1" if agent else None,
        )
        for i in range(count)
    ]


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


__all__ = ["DEMO_PASSWORD", "TEST_SECRET", "Tables", "open_sessions", "raw_session", "set_session_attr"]
