"""Sign-in must not tell an attacker which emails exist, and lockout must count every failure.

Counter semantics (sessions.sign_in and models.reserve_sign_in_attempt), pinned below:
- every sign-in reserves one attempt on the item `email#<email>` in the users table *before*
  its password is checked (an atomic conditional ADD; a window restart is its own conditional
  step), for a known email, a disabled user and an unknown email alike; a success gives its
  slot back, so every sign-in answered 401 leaves exactly 1 more in `failedSignIns`;
- a sign-in answered 429 (the email is locked) is not counted and does not extend the lock;
- the lock holds while MAX_FAILED_SIGN_INS attempts fall within LOCKOUT_SECONDS; because the
  slot is taken before the verify, a burst cannot have more passwords checked than the limit.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import argon2
import pytest

from functions.sign_in import app as sign_in
from sessiongate import models, sessions
from sessiongate.passwords import Passwords
from tests.helpers import FakeContext, proxy_event
from tests.integration.conftest import DEMO_PASSWORD, Tables
from tests.security.support import TALLY

PARALLEL = 20
RACE_TIMEOUT_SECONDS = 60


def attempt(email: str, password: str) -> dict[str, Any]:
    return sign_in.lambda_handler(proxy_event("sign_in", body={"email": email, "password": password}), FakeContext())


def comparable(response: dict[str, Any]) -> dict[str, Any]:
    """The whole response, headers included, minus anything naming the request."""
    headers = {
        name.lower(): tuple(values)
        for name, values in (response.get("multiValueHeaders") or {}).items()
        if "request-id" not in name.lower() and not name.lower().startswith("x-amzn")
    }
    headers.update(
        {
            name.lower(): (value,)
            for name, value in (response.get("headers") or {}).items()
            if "request-id" not in name.lower() and not name.lower().startswith("x-amzn")
        }
    )
    return {**{k: v for k, v in response.items() if k not in ("headers", "multiValueHeaders")}, "headers": headers}


def claim_item(tables: Tables, email: str) -> dict[str, Any]:
    key = {"id": {"S": models.claim_key(email)}}
    return tables.client.get_item(TableName=tables.users, Key=key, ConsistentRead=True)["Item"]


def disable(tables: Tables, user_id: str) -> None:
    tables.client.update_item(
        TableName=tables.users,
        Key={"id": {"S": user_id}},
        UpdateExpression="SET disabled = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )


@pytest.fixture
def frozen_clock(monkeypatch) -> int:
    """The sign-in function's clock stops: lockouts begin in the same second, Retry-After is comparable."""
    now = int(time.time())
    monkeypatch.setattr(sign_in, "time", types.SimpleNamespace(time=lambda: float(now)))
    return now


@pytest.fixture
def verify_calls(monkeypatch) -> list[str]:
    """Each Argon2id verification the sign-in function runs (the hash it was given)."""
    calls: list[str] = []
    lock = threading.Lock()
    real = sign_in.passwords.verify

    def counting(password_hash: str, password: str) -> bool:
        with lock:
            calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(sign_in.passwords, "verify", counting)
    return calls


@pytest.fixture
def dynamodb_calls() -> Iterator[list[str]]:
    """Every DynamoDB call the models make, as "<model>:<operation>"."""
    calls: list[str] = []
    hooks: list[tuple[Any, Callable[..., None]]] = []
    for model in (models.EmailClaim, models.User, models.Session):
        client = model._get_connection().connection.client

        def record(model_name: str = model.__name__, **kwargs: Any) -> None:
            calls.append(f"{model_name}:{kwargs['model'].name}")

        # one client may serve several models: register once per client
        if all(client is not seen for seen, _ in hooks):
            client.meta.events.register("before-call.dynamodb", record)
            hooks.append((client, record))
    yield calls
    for client, record in hooks:
        client.meta.events.unregister("before-call.dynamodb", record)


@pytest.fixture
def three_failures(tables: Tables, passwords, frozen_clock) -> dict[str, tuple[str, str]]:
    """(email, password) of the three failure kinds, each its email's first failure."""
    wrong = sessions.create_user(
        passwords, email="ada@example.com", password=DEMO_PASSWORD, name="Ada", role="USER", now=frozen_clock
    )
    off = sessions.create_user(
        passwords, email="dora@example.com", password=DEMO_PASSWORD, name="Dora", role="USER", now=frozen_clock
    )
    disable(tables, off.id)
    assert wrong.email and off.email
    return {
        "unknown email": ("nobody@example.com", DEMO_PASSWORD),
        "wrong password": ("ada@example.com", "not-the-password"),
        "disabled user": ("dora@example.com", DEMO_PASSWORD),  # the right password of a disabled user
    }


def test_unknown_wrong_and_disabled_are_indistinguishable_and_cost_one_verify(
    tables: Tables, three_failures, verify_calls
) -> None:
    # Given the three failure kinds, when each signs in once
    responses, verifies = {}, {}
    for case, (email, password) in three_failures.items():
        before = len(verify_calls)
        responses[case] = comparable(attempt(email, password))
        verifies[case] = verify_calls[before:]
    # Then status, body and headers are the same, and each ran exactly one Argon2id verify
    assert responses["unknown email"]["statusCode"] == 401
    assert responses["unknown email"] == responses["wrong password"] == responses["disabled user"]
    assert {case: len(calls) for case, calls in verifies.items()} == dict.fromkeys(three_failures, 1)
    # and the dummy hash that stands in for an unknown email costs what a real one costs
    dummy, real = verifies["unknown email"][0], verifies["wrong password"][0]
    assert dummy == sign_in.passwords.dummy_hash
    assert argon2.extract_parameters(dummy) == argon2.extract_parameters(real)


def test_unknown_wrong_and_disabled_make_the_same_dynamodb_calls(three_failures, dynamodb_calls) -> None:
    sequences = {}
    for case, (email, password) in three_failures.items():
        dynamodb_calls.clear()
        assert attempt(email, password)["statusCode"] == 401
        sequences[case] = [call.split(":", 1)[1] for call in dynamodb_calls]  # the operations, in order
    assert sequences["unknown email"] == sequences["wrong password"] == sequences["disabled user"], sequences


def test_locked_known_and_locked_unknown_emails_answer_the_same_429(
    tables: Tables, user, settings, frozen_clock, verify_calls
) -> None:
    # Given a known and an unknown email, each failed MAX_FAILED_SIGN_INS times in the same second
    for email in ("ada@example.com", "ghost@example.com"):
        for _ in range(settings.max_failed_sign_ins):
            assert attempt(email, "wrong password!")["statusCode"] == 401
    verify_calls.clear()
    # When the known one comes with its right password and the unknown one with any
    known = attempt("ada@example.com", DEMO_PASSWORD)
    unknown = attempt("ghost@example.com", DEMO_PASSWORD)
    # Then both answer the same 429 (Retry-After included), and neither ran a verify
    assert known["statusCode"] == 429
    assert comparable(known) == comparable(unknown)
    assert comparable(known)["headers"]["retry-after"] == (str(settings.lockout_seconds),)
    assert verify_calls == []


# --- parallel failures --------------------------------------------------------------------


@pytest.fixture
def cheap_sign_in(tables: Tables, monkeypatch) -> str:
    """The sign-in function with the cheapest Argon2id and a user hashed with it (20 verifies at once stay light)."""
    cheap = Passwords(time_cost=1, memory_kib=8, parallelism=1)
    monkeypatch.setattr(sign_in, "passwords", cheap)
    user = sessions.create_user(
        cheap, email="ada@example.com", password=DEMO_PASSWORD, name="Ada", role="USER", now=int(time.time())
    )
    return user.email


def all_at_once(monkeypatch, parties: int, wait_seconds: float) -> list[int]:
    """Make every verify wait until `parties` requests reach it (or `wait_seconds` pass): all of
    them have then read the counter before any failure is recorded. Returns the verify count."""
    barrier = threading.Barrier(parties, timeout=wait_seconds)
    count = [0]
    counting = threading.Lock()
    real = sign_in.passwords.verify

    def verify(password_hash: str, password: str) -> bool:
        with counting:
            count[0] += 1
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # fewer requests reached the verify: proceed
        return real(password_hash, password)

    monkeypatch.setattr(sign_in.passwords, "verify", verify)
    return count


def parallel_wrong_passwords(email: str, n: int = PARALLEL) -> list[int]:
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(
            pool.map(
                lambda i: attempt(email, f"wrong-password-{i}")["statusCode"], range(n), timeout=RACE_TIMEOUT_SECONDS
            )
        )


def test_parallel_wrong_passwords_are_all_counted(tables: Tables, cheap_sign_in, monkeypatch) -> None:
    # Given a lockout threshold out of reach, and 20 wrong passwords all past the lock check at once
    monkeypatch.setattr(sign_in, "settings", dataclasses.replace(sign_in.settings, max_failed_sign_ins=1_000))
    all_at_once(monkeypatch, PARALLEL, wait_seconds=10)
    # When they record their failures together
    statuses = parallel_wrong_passwords(cheap_sign_in)
    # Then every one is counted: no update is lost
    assert statuses == [401] * PARALLEL
    failed = int(claim_item(tables, cheap_sign_in)["failedSignIns"]["N"])
    TALLY.race(f"{PARALLEL} parallel wrong passwords, one email, lock out of reach: {failed} counted")
    assert failed == PARALLEL


def test_parallel_failures_count_every_401_and_no_429(tables: Tables, cheap_sign_in, settings) -> None:
    # Given the default threshold, when 20 wrong passwords arrive at once (natural interleaving)
    statuses = parallel_wrong_passwords(cheap_sign_in)
    # Then each answer is 401 or 429, the count is exactly the number of 401s, and the email is locked
    assert set(statuses) <= {401, 429}
    failed = int(claim_item(tables, cheap_sign_in)["failedSignIns"]["N"])
    TALLY.race(
        f"{PARALLEL} parallel wrong passwords, default lock: {statuses.count(401)} x 401, "
        f"{statuses.count(429)} x 429, failedSignIns {failed}"
    )
    assert failed == statuses.count(401) >= settings.max_failed_sign_ins
    assert attempt(cheap_sign_in, DEMO_PASSWORD)["statusCode"] == 429


def test_a_burst_cannot_try_more_passwords_than_the_lockout_allows(
    tables: Tables, cheap_sign_in, settings, monkeypatch
) -> None:
    # Given 20 guesses sent at once for one email
    verified = all_at_once(monkeypatch, PARALLEL, wait_seconds=5)
    statuses = parallel_wrong_passwords(cheap_sign_in)
    TALLY.race(f"{PARALLEL} parallel guesses, default lock: {verified[0]} passwords verified")
    # Then no more than MAX_FAILED_SIGN_INS of them had their password checked
    assert statuses.count(401) <= settings.max_failed_sign_ins
    assert verified[0] <= settings.max_failed_sign_ins
