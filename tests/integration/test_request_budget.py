"""DynamoDB requests per operation, through the real handlers: the cost follows the work.

Budgets (issue "Make sessiongate's cost follow its work"): the authorizer reads once and
never writes; sign-in reads at most twice and writes the new session once (plus one
write when it has to clear the failure counter; a failed sign-in writes only the
count); refresh is one read and one conditional write; sign-out one write. Counted with
botocore's `before-call.dynamodb` event on the PynamoDB clients of every model, so a
new call anywhere in the layer shows up here. No timing is asserted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions.authorizer import app as authorizer
from functions.rotate import app as rotate
from functions.sign_in import app as sign_in
from functions.sign_out import app as sign_out
from sessiongate import models
from tests.helpers import FakeContext, proxy_event, response_json, token_event
from tests.integration.conftest import DEMO_PASSWORD

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@dataclass
class Requests:
    """(operation, request parameters) of every DynamoDB call since the last clear()."""

    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def clear(self) -> None:
        self.seen.clear()

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.seen]

    @property
    def reads(self) -> list[tuple[str, dict[str, Any]]]:
        return [call for call in self.seen if call[0] in READS]

    @property
    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [call for call in self.seen if call[0] in WRITES]


@pytest.fixture
def dynamodb_requests(tables) -> Any:
    requests = Requests()

    def before_call(model: Any, params: dict[str, Any], **_: Any) -> None:
        requests.seen.append((model.name, json.loads(params.get("body") or b"{}")))

    # Each PynamoDB model has its own connection and botocore client.
    clients = {
        id(c): c
        for c in (m._get_connection().connection.client for m in (models.Session, models.User, models.EmailClaim))
    }
    for client in clients.values():
        client.meta.events.register("before-call.dynamodb", before_call, unique_id="test-request-budget")
    yield requests
    for client in clients.values():
        client.meta.events.unregister("before-call.dynamodb", unique_id="test-request-budget")


def attempt(email: str, password: str) -> dict:
    return sign_in.lambda_handler(proxy_event("sign_in", body={"email": email, "password": password}), FakeContext())


def test_authorizer_makes_one_consistent_read_and_no_write(issued, user, tables, dynamodb_requests):
    dynamodb_requests.clear()
    policy = authorizer.lambda_handler(token_event(f"Bearer {issued.access_token}"), FakeContext())
    assert policy["principalId"] == user.id
    assert dynamodb_requests.operations == ["GetItem"]
    ((_, request),) = dynamodb_requests.seen
    assert request["TableName"] == tables.sessions and request["ConsistentRead"] is True


def test_sign_in_reads_twice_reserves_the_attempt_gives_it_back_and_writes_the_session(user, tables, dynamodb_requests):
    # The attempt is reserved before the password is checked (so a burst cannot pass the
    # lockout) and given back after a success: two writes more than the session itself.
    dynamodb_requests.clear()
    assert attempt(user.email, DEMO_PASSWORD)["statusCode"] == 200
    assert len(dynamodb_requests.reads) <= 2
    assert [(name, request["TableName"]) for name, request in dynamodb_requests.writes] == [
        ("UpdateItem", tables.users),
        ("UpdateItem", tables.users),
        ("PutItem", tables.sessions),
    ]


@pytest.mark.parametrize("case", ["first failure", "repeated failure", "unknown email"])
def test_failed_sign_in_reads_at_most_twice_and_writes_only_the_count(case, user, tables, dynamodb_requests):
    email = "nobody@example.com" if case == "unknown email" else user.email
    if case == "repeated failure":
        assert attempt(email, "wrong password!")["statusCode"] == 401
    dynamodb_requests.clear()
    assert attempt(email, "wrong password!")["statusCode"] == 401
    assert len(dynamodb_requests.reads) <= 2
    assert [(name, request["TableName"]) for name, request in dynamodb_requests.writes] == [
        ("UpdateItem", tables.users)
    ]


def test_sign_in_after_failures_costs_the_same_as_any_success(user, tables, dynamodb_requests):
    assert attempt(user.email, "wrong password!")["statusCode"] == 401
    dynamodb_requests.clear()
    assert attempt(user.email, DEMO_PASSWORD)["statusCode"] == 200
    assert len(dynamodb_requests.reads) <= 2
    assert len(dynamodb_requests.writes) <= 3
    assert ("PutItem", tables.sessions) in [(name, request["TableName"]) for name, request in dynamodb_requests.writes]


def test_refresh_reads_once_and_writes_once_conditionally(issued, tables, dynamodb_requests):
    dynamodb_requests.clear()
    event = proxy_event("refresh", body={"refreshToken": issued.refresh_token})
    assert rotate.lambda_handler(event, FakeContext())["statusCode"] == 200
    assert dynamodb_requests.operations == ["GetItem", "UpdateItem"]
    (_, read), (_, write) = dynamodb_requests.seen
    assert read["ConsistentRead"] is True
    assert "ConditionExpression" in write and write["TableName"] == tables.sessions


def test_sign_out_writes_once(issued, user, tables, dynamodb_requests):
    context = {
        "principalId": user.id,
        "userId": user.id,
        "sessionId": issued.session_id,
        "role": "USER",
        "email": user.email,
    }
    dynamodb_requests.clear()
    response = sign_out.lambda_handler(proxy_event("sign_out", authorizer=context), FakeContext())
    assert response["statusCode"] == 204, response_json(response)
    assert dynamodb_requests.operations == ["DeleteItem"]
    assert dynamodb_requests.seen[0][1]["TableName"] == tables.sessions
