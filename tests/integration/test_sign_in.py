"""Sign-in on moto: fresh sessions, indistinguishable failures, per-email lockout."""

from __future__ import annotations

import json
import time

import pytest

from functions.sign_in import app as sign_in
from sessiongate import models, sessions, tokens
from tests.helpers import FakeContext, proxy_event, response_json
from tests.integration.conftest import DEMO_PASSWORD, open_sessions, raw_session


def attempt(email: str, password: str) -> dict:
    return sign_in.lambda_handler(proxy_event("sign_in", body={"email": email, "password": password}), FakeContext())


@pytest.fixture
def verify_calls(monkeypatch):
    """Count Argon2id verifications made by the sign-in function."""
    calls = []
    real = sign_in.passwords.verify

    def counting(password_hash, password):
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(sign_in.passwords, "verify", counting)
    return calls


def test_every_sign_in_opens_a_new_session(user, tables):
    # Given the same credentials twice, when signing in twice, then two distinct sessions exist
    first = response_json(attempt("ada@example.com", DEMO_PASSWORD))
    second = response_json(attempt("ADA@example.com ", DEMO_PASSWORD))
    assert first["session"]["id"] != second["session"]["id"]
    assert first["refreshToken"] != second["refreshToken"]
    assert raw_session(tables, first["session"]["id"]) and raw_session(tables, second["session"]["id"])


def test_session_row_stores_only_a_hash_of_the_refresh_token(user, tables):
    issued = response_json(attempt("ada@example.com", DEMO_PASSWORD))
    row = raw_session(tables, issued["session"]["id"])
    assert issued["refreshToken"] not in str(row)
    assert row["sessionToken"]["S"] == tokens.token_digest(issued["refreshToken"])
    assert row["userAgent"]["S"].startswith("Mozilla/5.0")
    assert row["sourceIp"]["S"] == "203.0.113.10"


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "disabled user"])
def test_failures_are_indistinguishable_and_cost_one_verify(case, user, tables, verify_calls):
    # Given one of the three failure kinds
    email, password = "ada@example.com", DEMO_PASSWORD
    if case == "unknown email":
        email = "nobody@example.com"
    elif case == "wrong password":
        password = "not the password"
    else:
        tables.client.update_item(
            TableName=tables.users,
            Key={"id": {"S": user.id}},
            UpdateExpression="SET disabled = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
    # When signing in, then the answer is the same 401 and exactly one password verify ran
    response = attempt(email, password)
    assert response["statusCode"] == 401
    assert response_json(response) == {"error": "invalid_credentials", "message": "Invalid email or password."}
    assert len(verify_calls) == 1


@pytest.mark.parametrize("email", ["ada@example.com", "ghost@example.com"])
def test_lockout_after_max_failures_even_for_the_right_password(email, user, settings):
    # Given MAX_FAILED_SIGN_INS wrong passwords (for a known and for an unknown email alike)
    for _ in range(settings.max_failed_sign_ins):
        assert attempt(email, "wrong password!")["statusCode"] == 401
    # When the right password comes next, then it is refused with 429 and Retry-After
    locked = attempt(email, DEMO_PASSWORD)
    assert locked["statusCode"] == 429
    assert response_json(locked)["error"] == "too_many_attempts"
    retry_after = int(locked["multiValueHeaders"]["Retry-After"][0])
    assert 0 < retry_after <= settings.lockout_seconds


def test_lockout_ends_when_the_window_passes(user, settings, tables):
    for _ in range(settings.max_failed_sign_ins):
        attempt("ada@example.com", "wrong password!")
    # Given the last failure is older than the lockout window
    tables.client.update_item(
        TableName=tables.users,
        Key={"id": {"S": "email#ada@example.com"}},
        UpdateExpression="SET lastFailedAt = :t",
        ExpressionAttributeValues={":t": {"N": str(int(time.time()) - settings.lockout_seconds - 1)}},
    )
    # Then the right password works and the counter is cleared
    assert attempt("ada@example.com", DEMO_PASSWORD)["statusCode"] == 200
    claim = models.get_claim("ada@example.com")
    assert claim.failed_sign_ins == 0


def test_failures_of_an_unknown_email_expire_with_ttl(tables, settings):
    attempt("ghost@example.com", "whatever-password")
    item = tables.client.get_item(TableName=tables.users, Key={"id": {"S": "email#ghost@example.com"}})["Item"]
    assert "userId" not in item
    assert abs(int(item["expires"]["N"]) - (int(time.time()) + settings.lockout_seconds)) <= 5


def test_rehash_when_parameters_change(user, tables):
    # Given a hash made with weaker parameters than the configured ones
    from sessiongate.passwords import Passwords

    weak = Passwords(time_cost=1, memory_kib=8192)
    tables.client.update_item(
        TableName=tables.users,
        Key={"id": {"S": user.id}},
        UpdateExpression="SET passwordHash = :h",
        ExpressionAttributeValues={":h": {"S": weak.hash(DEMO_PASSWORD)}},
    )
    # When the user signs in, then the stored hash is upgraded
    assert attempt("ada@example.com", DEMO_PASSWORD)["statusCode"] == 200
    assert models.get_user(user.id).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        '{"email": "ada@example.com"}',
        '{"email": 1, "password": "x"}',
        '{"email": "ada@example.com", "password": null}',
        '{"email": "no-at-sign", "password": "long enough"}',
        '{"email": "ada@example.com", "password": "' + "x" * 1025 + '"}',
    ],
)
def test_bad_bodies_get_400_invalid_request(raw, user):
    response = sign_in.lambda_handler(proxy_event("sign_in", raw_body=raw), FakeContext())
    assert response["statusCode"] == 400
    body = response_json(response)
    assert body["error"] == "invalid_request"
    assert "long enough" not in body["message"] and "xxxx" not in body["message"]


def test_bad_base64_body_gets_400(user):
    event = proxy_event("sign_in", body={"email": "ada@example.com", "password": DEMO_PASSWORD})
    event.update(isBase64Encoded=True, body="%%% not base64 %%%")
    response = sign_in.lambda_handler(event, FakeContext())
    assert response["statusCode"] == 400


def test_dynamodb_outage_answers_503_with_retry_after(user, monkeypatch):
    def unavailable(email):
        raise sessions.ServiceUnavailable()

    monkeypatch.setattr(models, "get_claim", unavailable)
    response = attempt("ada@example.com", DEMO_PASSWORD)
    assert response["statusCode"] == 503
    assert response["multiValueHeaders"]["Retry-After"] == ["1"]


def test_sessions_beyond_the_per_user_limit_revoke_the_oldest(user, tables, settings, keys, passwords):
    # Given MAX_SESSIONS_PER_USER=2, when the user signs in four times (one second apart in createdAt)
    import dataclasses

    limited = dataclasses.replace(settings, max_sessions_per_user=2)
    start = int(time.time())
    opened = [i.session_id for i in open_sessions(limited, keys, passwords, user, 4, start=start)]
    # Then only the two newest sessions are left
    remaining = {i["id"]["S"] for i in tables.client.scan(TableName=tables.sessions)["Items"]}
    assert remaining == set(opened[2:])


def test_no_limit_by_default(user, tables, settings):
    assert settings.max_sessions_per_user == 0
    for _ in range(3):
        assert attempt("ada@example.com", DEMO_PASSWORD)["statusCode"] == 200
    assert tables.client.scan(TableName=tables.sessions)["Count"] == 3


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"],
)
def test_non_json_bodies_are_refused_before_any_parsing(content_type, user, tables):
    body = "email=ada%40example.com&password=" + DEMO_PASSWORD.replace(" ", "+")
    response = sign_in.lambda_handler(
        proxy_event("sign_in", raw_body=body, headers={"Content-Type": content_type}), FakeContext()
    )
    assert response["statusCode"] == 400
    assert response_json(response)["error"] == "invalid_request"
    assert tables.client.scan(TableName=tables.sessions)["Count"] == 0


def test_json_content_type_in_any_case_is_json(user):
    body = json.dumps({"email": "ada@example.com", "password": DEMO_PASSWORD})
    event = proxy_event("sign_in", raw_body=body, headers={"Content-Type": "APPLICATION/JSON; charset=UTF-8"})
    assert sign_in.lambda_handler(event, FakeContext())["statusCode"] == 200


def test_invalid_json_says_so():
    response = sign_in.lambda_handler(proxy_event("sign_in", raw_body="{not json"), FakeContext())
    assert response_json(response) == {"error": "invalid_request", "message": "body is not valid JSON"}


def test_concurrent_correct_sign_ins_are_not_locked_out(user, tables, settings):
    # Tabs signing in at once: each success gives its attempt back while others reserve
    # theirs. Fewer at once than the limit (which bounds password checks in flight per
    # email) are never refused. Bounded: limit - 1 threads, 60 s.
    from concurrent.futures import ThreadPoolExecutor

    at_once = settings.max_failed_sign_ins - 1
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        statuses = list(
            pool.map(lambda _: attempt("ada@example.com", DEMO_PASSWORD)["statusCode"], range(at_once * 3), timeout=60)
        )
    assert statuses == [200] * (at_once * 3)
