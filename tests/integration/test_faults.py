"""DynamoDB faults injected at each call of each operation (at the botocore edge, no network).

For every operation the clean run's DynamoDB calls are counted, then the operation is run
again with one fault at call i for every i and every fault kind. The outcomes allowed are
the documented ones: the authorizer denies, the JSON routes answer 503 with Retry-After
(or succeed where the fault is a condition the code retries), and no half-written state
is left behind.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from botocore.exceptions import ReadTimeoutError

from functions.authorizer import app as authorizer
from functions.me import app as me
from functions.rotate import app as rotate
from functions.sign_in import app as sign_in
from functions.sign_out import app as sign_out
from sessiongate import models, sessions
from sessiongate.models import EmailClaim, Session, User
from tests.helpers import FakeContext, proxy_event, response_json, token_event
from tests.integration.conftest import DEMO_PASSWORD, raw_session

FAULTS = {
    "throttling": (400, "ProvisionedThroughputExceededException"),
    "server error": (500, "InternalServerError"),
    "conditional": (400, "ConditionalCheckFailedException"),
    "timeout": None,
}


class Injector:
    """Counts DynamoDB calls of the models' clients and fails the one numbered `fail_at`."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_at: int | None = None
        self.kind = "throttling"
        self.injected = 0

    def before_call(self, model, **_):
        self.calls.append(model.name)
        if len(self.calls) != self.fail_at:
            return None
        self.injected += 1
        fault = FAULTS[self.kind]
        if fault is None:
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1/")
        status, code = fault
        return SimpleNamespace(status_code=status, headers={}), {
            "Error": {"Code": code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }


@pytest.fixture
def injector(tables) -> Iterator[Injector]:
    fault = Injector()
    clients = {model._get_connection().connection.client for model in (Session, User, EmailClaim)}
    for client in clients:
        client.meta.events.register_first("before-call.dynamodb", fault.before_call)
    yield fault
    for client in clients:
        client.meta.events.unregister("before-call.dynamodb", fault.before_call)


def each_fault(injector: Injector, operation: Callable[[], object], check: Callable[[object], None]) -> int:
    """Run the operation once clean to count its calls, then once per (call, fault kind)."""
    injector.calls.clear()
    injector.fail_at = None
    operation()
    count = len(injector.calls)
    for position, kind in itertools.product(range(1, count + 1), FAULTS):
        injector.calls.clear()
        injector.fail_at, injector.kind = position, kind
        check(operation())
    injector.fail_at = None
    return count


def expect_503_or(*allowed: int) -> Callable[[dict], None]:
    def check(response: dict) -> None:
        assert response["statusCode"] in {503, *allowed}, response
        if response["statusCode"] == 503:
            assert response["multiValueHeaders"]["Retry-After"] == ["1"]
            assert response_json(response)["error"] == "service_unavailable"

    return check


def test_authorizer_fails_closed_on_every_fault(issued, injector):
    def operation():
        try:
            return authorizer.lambda_handler(token_event(f"Bearer {issued.access_token}"), FakeContext())
        except Exception as exc:  # noqa: BLE001 - the exception itself is what is checked
            return exc

    outcomes = []

    def check(outcome):
        outcomes.append(outcome)
        assert type(outcome) is Exception and str(outcome) == "Unauthorized"

    assert each_fault(injector, operation, check) == 1
    assert len(outcomes) == len(FAULTS)


def test_sign_in_answers_503_and_writes_no_session(user, tables, injector):
    def session_count() -> int:
        return tables.client.scan(TableName=tables.sessions)["Count"]

    def operation():
        before = session_count()
        response = sign_in.lambda_handler(
            proxy_event("sign_in", body={"email": user.email, "password": DEMO_PASSWORD}), FakeContext()
        )
        return response, session_count() - before

    def check(outcome):
        response, written = outcome
        # A conditional failure injected into the attempt reservation reads as a full window: 429
        expect_503_or(200, *([429] if injector.kind == "conditional" else []))(response)
        # A 503 wrote no session; a 200 wrote exactly the one it returned
        assert written == (1 if response["statusCode"] == 200 else 0)
        if response["statusCode"] == 200:
            assert raw_session(tables, response_json(response)["session"]["id"]) is not None

    assert each_fault(injector, operation, check) == 5  # claim, user, reserve, give back, session


def test_failed_sign_in_counting_faults(user, tables, injector):
    def operation():
        return sign_in.lambda_handler(
            proxy_event("sign_in", body={"email": user.email, "password": "wrong password"}), FakeContext()
        )

    # 401 counted, 503 not counted, 429 once the failures (clean and faulted) reach the limit
    assert each_fault(injector, operation, expect_503_or(401, 429)) == 3  # claim, user, failure count


def test_refresh_answers_503_and_the_same_token_still_works(issued, tables, injector):
    token = {"value": issued.refresh_token}

    def operation():
        return rotate.lambda_handler(proxy_event("refresh", body={"refreshToken": token["value"]}), FakeContext())

    def check(response):
        expect_503_or(200)(response)
        if response["statusCode"] == 200:
            token["value"] = response_json(response)["refreshToken"]
        # Whatever happened, the session is intact and the held token still refreshes
        injector.fail_at = None
        again = operation()
        assert again["statusCode"] == 200, again
        token["value"] = response_json(again)["refreshToken"]

    def first(response):
        token["value"] = response_json(response)["refreshToken"]

    injector.fail_at = None
    first(operation())
    assert each_fault(injector, operation, check) >= 2  # read, conditional write
    assert raw_session(tables, issued.session_id) is not None


def test_a_rotation_applied_but_unanswered_is_recovered_by_retrying(issued, tables):
    # Given DynamoDB applied the rotation but the answer was lost (timeout after the write)
    client = Session._get_connection().connection.client
    lost = {"done": False}

    def lose_answer(**_):
        if not lost["done"]:
            lost["done"] = True
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1/")

    client.meta.events.register("after-call.dynamodb.UpdateItem", lose_answer)
    try:
        first = rotate.lambda_handler(
            proxy_event("refresh", body={"refreshToken": issued.refresh_token}), FakeContext()
        )
    finally:
        client.meta.events.unregister("after-call.dynamodb.UpdateItem", lose_answer)
    assert first["statusCode"] == 503
    assert raw_session(tables, issued.session_id)["generation"]["N"] == "1"
    # When the client retries with the token it holds, then it gets the successor, not a revocation
    retry = rotate.lambda_handler(proxy_event("refresh", body={"refreshToken": issued.refresh_token}), FakeContext())
    assert retry["statusCode"] == 200
    assert raw_session(tables, issued.session_id) is not None


def test_sign_out_and_me_answer_503(issued, injector):
    context = {
        "principalId": issued.user.id,
        "userId": issued.user.id,
        "sessionId": issued.session_id,
        "role": "USER",
        "email": issued.user.email,
    }
    assert (
        each_fault(
            injector,
            lambda: me.lambda_handler(proxy_event("me", authorizer=context), FakeContext()),
            expect_503_or(200),
        )
        == 2
    )
    assert (
        each_fault(
            injector,
            lambda: sign_out.lambda_handler(proxy_event("sign_out", authorizer=context), FakeContext()),
            expect_503_or(204),
        )
        == 1
    )


def make_expired(count: int, now: int) -> set[str]:
    ids = set()
    for i in range(count):
        session_id = f"expired-session-{i:04d}-padding"
        expires = now - 10 - i
        Session(
            session_id,
            user_id="u",
            session_token="d",
            generation=0,
            expires=models.utc(expires),
            absolute_expires=expires,
            created_at=now - 100,
            rotated_at=now - 100,
            expiry_bucket=models.expiry_bucket(session_id, expires),
            role="USER",
            email="a@example.com",
        ).save()
        ids.add(session_id)
    return ids


def test_sweeper_resumes_after_any_fault_without_losing_or_double_counting(tables, injector, expired_rows_stay):
    now = int(time.time())
    expired = make_expired(6, now)
    injector.fail_at = None
    injector.calls.clear()
    # A clean dry count of the calls of one full sweep over the same data
    positions = list(range(1, 40))
    total_deleted = 0
    for position, kind in zip(positions, itertools.cycle(FAULTS), strict=False):
        injector.calls.clear()
        injector.fail_at, injector.kind = position, kind
        report = sessions.sweep(now=now, time_left_ms=lambda: 300_000, retry_delays=(0.0,))
        total_deleted += report.deleted
        remaining = {i["id"]["S"] for i in tables.client.scan(TableName=tables.sessions)["Items"]}
        assert remaining <= expired
        assert total_deleted == len(expired - remaining)  # nothing counted twice, nothing lost
        if not remaining:
            break
        expired_left = remaining
        assert expired_left
    assert total_deleted == len(expired)
    assert injector.injected > 0
