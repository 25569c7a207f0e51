"""No secret in any log line: a representative run of every operation, with all its output captured.

Captured: the process's stdout and stderr at the file-descriptor level (EMF metric lines,
prints, the moto server's request log, the admin CLI's output), the Powertools logger's own
stream (its handler holds the sys.stdout of import time, which fd capture would miss), and
every logging record at INFO and above from any logger (message, arguments, extra keys and
exception text, before any formatter can drop them). INFO is the deployed LOG_LEVEL.

Looked for, raw and JSON-escaped: every access token and its signature segment, every
refresh token and its nonce and tag, every password sent (right or wrong), the stored
password hashes, AUTH_SECRET and the HKDF subkeys derived from it.

Also: a handler refuses to start with an AUTH_SECRET shorter than 32 bytes, naming the
variable and never echoing the value (checked in a fresh interpreter per handler).
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from functions.authorizer import app as authorizer
from functions.me import app as me
from functions.rotate import app as rotate
from functions.sign_in import app as sign_in
from functions.sign_out import app as sign_out
from functions.sweeper import app as sweeper
from local.template import repo_root
from sessiongate import admin, models
from sessiongate.keys import KeyProvider
from sessiongate.observability import logger as powertools_logger
from tests.conftest import TEST_SECRET
from tests.helpers import FakeContext, load_event, proxy_event, response_json, token_event
from tests.integration.conftest import Tables, raw_session
from tests.security.support import b64url

PASSWORD = "a-long-passphrase-for-log-tests"
OTHER_PASSWORD = "another-passphrase-for-log-tests"
WRONG_PASSWORDS = ("wrong-guess-number-one", "wrong-guess-number-two")


class RecordCollector(logging.Handler):
    """Every record, with everything it carries, whatever a formatter would keep."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc_text = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        self.texts.append(f"{record.name} {record.getMessage()} {record.__dict__!r} {exc_text}")


@pytest.fixture
def all_output(capfd, monkeypatch) -> Iterator[dict[str, Any]]:
    stream = io.StringIO()
    for handler in powertools_logger._logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            monkeypatch.setattr(handler, "stream", stream)
    collector = RecordCollector()
    root = logging.getLogger()
    targets = {root, powertools_logger._logger}
    for target in targets:
        target.addHandler(collector)
    previous_root_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield {"stream": stream, "collector": collector, "capfd": capfd}
    finally:
        root.setLevel(previous_root_level)
        for target in targets:
            target.removeHandler(collector)


def captured_text(output: dict[str, Any]) -> str:
    out, err = output["capfd"].readouterr()
    return "\n".join([out, err, output["stream"].getvalue(), *output["collector"].texts])


def authorizer_context(access_token: str) -> dict[str, Any]:
    policy = authorizer.lambda_handler(token_event(f"Bearer {access_token}"), FakeContext())
    return {"principalId": policy["principalId"], **policy["context"]}


def attempt(email: str, password: str) -> dict[str, Any]:
    return sign_in.lambda_handler(proxy_event("sign_in", body={"email": email, "password": password}), FakeContext())


def refresh(token: str) -> dict[str, Any]:
    return rotate.lambda_handler(proxy_event("refresh", body={"refreshToken": token}), FakeContext())


def password_hash_of(tables: Tables, user_id: str) -> str:
    item = tables.client.get_item(TableName=tables.users, Key={"id": {"S": user_id}}, ConsistentRead=True)["Item"]
    return item["passwordHash"]["S"]


def expire(tables: Tables, session_id: str, at: int) -> None:
    tables.client.update_item(
        TableName=tables.sessions,
        Key={"id": {"S": session_id}},
        UpdateExpression="SET expires = :e, expiryBucket = :b",
        ExpressionAttributeValues={":e": {"N": str(at)}, ":b": {"S": models.expiry_bucket(session_id, at)}},
    )


def secret_variants(name: str, value: str) -> list[tuple[str, str]]:
    variants = {value, json.dumps(value)[1:-1]}
    return [(name, v) for v in variants if len(v) >= 8]


def refresh_parts(token: str) -> list[tuple[str, str]]:
    _, _, _, nonce, tag = token.split(".")
    return [("refresh token", token), ("refresh nonce", nonce), ("refresh tag", tag)]


def access_parts(token: str) -> list[tuple[str, str]]:
    return [("access token", token), ("access token signature", token.rsplit(".", 1)[1])]


def test_no_secret_reaches_any_log(tables: Tables, settings, all_output) -> None:
    secrets_seen: list[tuple[str, str]] = []

    # Given users made with the admin CLI (the password goes in as an argument)
    for email, password in (("ada@example.com", PASSWORD), ("bob@example.com", OTHER_PASSWORD)):
        assert admin.main(["create-user", "--email", email, "--password", password, "--name", "N"]) == 0
    ada_id = models.get_claim("ada@example.com").user_id
    bob_id = models.get_claim("bob@example.com").user_id

    # When every operation runs, successes and failures alike
    signed = attempt("ada@example.com", PASSWORD)
    assert signed["statusCode"] == 200
    first = response_json(signed)
    assert attempt("ada@example.com", WRONG_PASSWORDS[0])["statusCode"] == 401
    assert attempt("nobody@example.com", WRONG_PASSWORDS[1])["statusCode"] == 401
    for _ in range(settings.max_failed_sign_ins):
        assert attempt("bob@example.com", WRONG_PASSWORDS[1])["statusCode"] == 401
    assert attempt("bob@example.com", OTHER_PASSWORD)["statusCode"] == 429  # locked, even the right password

    context = authorizer_context(first["accessToken"])  # authorizer: Allow
    assert me.lambda_handler(proxy_event("me", authorizer=context), FakeContext())["statusCode"] == 200
    for header in (f"Bearer {first['accessToken'][:-2]}xx", f"Bearer {first['refreshToken']}", "Basic x"):
        with pytest.raises(Exception, match="^Unauthorized$"):  # authorizer: deny
            authorizer.lambda_handler(token_event(header), FakeContext())
    with pytest.raises(Exception, match="^Unauthorized$"):  # authorizer: its catch-all (a bad method ARN)
        authorizer.lambda_handler(token_event(f"Bearer {first['accessToken']}", "not-an-arn"), FakeContext())

    second = response_json(refresh(first["refreshToken"]))  # refresh: rotation
    third = response_json(refresh(second["refreshToken"]))
    assert refresh(first["refreshToken"])["statusCode"] == 401  # refresh: reuse two generations back revokes
    assert raw_session(tables, first["session"]["id"]) is None

    other = response_json(attempt("ada@example.com", PASSWORD))  # sign-out
    out = sign_out.lambda_handler(
        proxy_event("sign_out", authorizer=authorizer_context(other["accessToken"])), FakeContext()
    )
    assert out["statusCode"] == 204

    stale = response_json(attempt("ada@example.com", PASSWORD))  # sweeper
    expire(tables, stale["session"]["id"], int(time.time()) - 60)
    assert sweeper.lambda_handler(load_event("scheduled"), FakeContext())["deleted"] == 1
    assert admin.main(["list-sessions", "ada@example.com"]) == 0

    # Then no secret shows up anywhere in what was written
    for issued in (first, second, third, other, stale):
        secrets_seen += access_parts(issued["accessToken"]) + refresh_parts(issued["refreshToken"])
    for password in (PASSWORD, OTHER_PASSWORD, *WRONG_PASSWORDS):
        secrets_seen += secret_variants("password", password)
    for user_id in (ada_id, bob_id):
        stored = password_hash_of(tables, user_id)
        secrets_seen += secret_variants("password hash", stored) + [("hash digest", stored.rsplit("$", 1)[1])]
    secrets_seen += secret_variants("dummy hash", sign_in.passwords.dummy_hash)
    signing = KeyProvider(settings).current().signing
    assert signing.secret == TEST_SECRET.encode() == os.environ["AUTH_SECRET"].encode()
    secrets_seen += secret_variants("AUTH_SECRET", TEST_SECRET)
    for label in ("refresh-tag/v1", "refresh-successor/v1"):
        subkey = signing.subkey(label)
        secrets_seen += [("subkey", subkey.hex()), ("subkey", b64url(subkey))]

    text = captured_text(all_output)
    # (the capture works: the messages of this run are in it)
    for expected in ("signed in", "refresh token reuse", "sweep finished", "unauthorized", "authorizer failure"):
        assert expected in text, f"{expected!r} not captured"
    assert '"SignIns"' in text and '"RefreshReuseDetected"' in text  # the EMF metric lines
    leaked = sorted({name for name, value in secrets_seen if value in text})
    assert leaked == [], f"secrets in the logs: {leaked}"


# --- AUTH_SECRET too short: refused at cold start -------------------------------------------

HANDLERS_WITH_KEYS = ("authorizer", "sign_in", "rotate")


def cold_start(handler: str, secret: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(repo_root()), str(repo_root() / "layers" / "sessiongate")]),
        "AUTH_SECRET": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        [sys.executable, "-c", f"import functions.{handler}.app"],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("handler", HANDLERS_WITH_KEYS)
def test_cold_start_refuses_an_auth_secret_shorter_than_32_bytes(handler: str) -> None:
    secret = "short-secret-of-31-bytes-xxxxxx"
    assert len(secret.encode()) == 31
    result = cold_start(handler, secret)
    assert result.returncode != 0
    assert "ConfigError" in result.stderr and "AUTH_SECRET must be at least 32 bytes" in result.stderr
    assert secret not in result.stderr + result.stdout  # named, never echoed


def test_secret_length_counts_bytes_not_characters() -> None:
    # 16 characters, 31 bytes: refused; 32 bytes (16 two-byte characters): accepted
    refused = cold_start("authorizer", "é" * 15 + "a")
    assert refused.returncode != 0 and "AUTH_SECRET" in refused.stderr
    accepted = cold_start("authorizer", "é" * 16)
    assert accepted.returncode == 0, accepted.stderr
