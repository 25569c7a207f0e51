"""Schemathesis against the local stack: generated requests, every answer checked against openapi.json.

`test_api_with_bearer` runs every operation, sending the Bearer routes a live access token
of the demo user so the cases get past the authorizer to the functions (sign-out gets a
session of its own each time, so it never revokes the one /me uses); `test_api_anonymous`
runs the Bearer routes again without credentials. Schemathesis' default
checks apply (no 5xx, status codes, headers, content types and bodies as documented,
schema-valid data accepted, invalid data rejected, auth enforced), except one that does
not fit API Gateway (see CHECKS). The seed is fixed and the example database off, so a run
is repeatable; examples per operation are bounded to keep the tier fast.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.e2e.conftest import REPO, LocalStack

pytestmark = pytest.mark.e2e

SEED = 20261203
MAX_EXAMPLES = 25  # fuzzing-phase examples per operation and identity; the coverage phase adds its own
CHECKS = {
    # A REST API answers a method it has no route for with MISSING_AUTHENTICATION_TOKEN (403, 404 in
    # this template), never 405 + Allow: API Gateway's behaviour, not the functions'.
    "unsupported_method": {"enabled": False},
}
CONFIG = schemathesis.Config.from_dict(
    {"seed": SEED, "generation": {"max-examples": MAX_EXAMPLES}, "checks": CHECKS, "request-timeout": 30}
)
SCHEMA = schemathesis.openapi.from_path(REPO / "openapi.json", config=CONFIG)
BEARER_ONLY = SCHEMA.include(lambda ctx: bool(ctx.operation.definition.raw.get("security", True)))
SETTINGS = settings(database=None, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)

# "<identity> <operation> <status>" -> responses seen (what the run exercised; asserted at the end).
SEEN: Counter[str] = Counter()
SIGN_OUT = "POST /auth/sign-out"


def needs_bearer(case: schemathesis.Case) -> bool:
    return bool(case.operation.definition.raw.get("security", True))


def known_defect(case: schemathesis.Case) -> str | None:
    """A case that hits a defect pinned by an xfail test below; run, it would fail every time."""
    if isinstance(case.body, bytes):
        try:
            case.body.decode("utf-8")
        except UnicodeDecodeError:
            return "non-UTF-8 body"  # the local stack's API emulator answers 502
    return None


@pytest.fixture(scope="module")
def access_token(stack: LocalStack) -> str:
    return stack.sign_in()["accessToken"]


def run(case: schemathesis.Case, stack: LocalStack, identity: str, headers: dict[str, str]) -> None:
    defect = known_defect(case)
    if defect:
        SEEN[f"{identity} skipped: {defect}"] += 1
        return
    response = case.call_and_validate(base_url=stack.base_url, headers=headers)
    SEEN[f"{identity} {case.operation.label} {response.status_code}"] += 1


@SCHEMA.parametrize()
@SETTINGS
def test_api_with_bearer(case: schemathesis.Case, stack: LocalStack, access_token: str) -> None:
    headers = {}
    if needs_bearer(case):
        token = stack.sign_in()["accessToken"] if case.operation.label == SIGN_OUT else access_token
        headers["Authorization"] = f"Bearer {token}"
    run(case, stack, "bearer", headers)


@BEARER_ONLY.parametrize()
@SETTINGS
def test_api_anonymous(case: schemathesis.Case, stack: LocalStack) -> None:
    run(case, stack, "anonymous", {})


def test_the_run_reached_the_functions() -> None:
    """Guard against a run that passes because nothing got through (a dead token, a stack answering 404)."""
    if not any(key.startswith("bearer ") for key in SEEN):
        pytest.skip("the schemathesis tests did not run in this session")
    print(dict(sorted(SEEN.items())))
    for reached in ("GET /me 200", f"{SIGN_OUT} 204", "POST /auth/sign-in 401", "POST /auth/refresh 401"):
        assert SEEN[f"bearer {reached}"] > 0, (reached, SEEN)
    for operation in ("GET /me", SIGN_OUT):
        assert SEEN[f"anonymous {operation} 401"] > 0, (operation, SEEN)
        assert not any(k.startswith(f"anonymous {operation} 2") for k in SEEN), SEEN


# --- found by this run ------------------------------------------------------------------------
# Powertools' validation middleware parsed a body by its Content-Type before any handler ran:
# multipart without a boundary raised out of the resolver (a 5xx), other types got Powertools'
# own 415 body, and a multipart form was accepted as credentials. The JSON handlers now refuse
# any non-JSON body with the contract's 400 first (http.accept_content_type). Still open: the
# local stack's API emulator (SAM CLI's service) cannot build an event from a body that is not
# UTF-8 and answers its own 502; the xfail below turns XPASS (a failure) once that is fixed.

JSON_ROUTES = ["/auth/sign-in", "/auth/refresh"]


def post(stack: LocalStack, path: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], Any]:
    """POST with this exact Content-Type (conftest's http_json always sends application/json)."""
    request = urllib.request.Request(  # noqa: S310 - loopback only
        stack.base_url + path, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            status, headers, raw = error.code, dict(error.headers), error.read()
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw.decode("utf-8", "replace")


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_malformed_multipart_content_type_is_refused_not_a_server_error(stack: LocalStack, path: str) -> None:
    status, _, body = post(stack, path, b'{"refreshToken": "x"}', "multipart/form-data")
    assert 400 <= status < 500, (status, body)


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_non_json_content_type_gets_the_contract_error_shape(stack: LocalStack, path: str) -> None:
    status, headers, body = post(stack, path, b'{"refreshToken": "x"}', "text/plain")
    assert 400 <= status < 500, (status, body)
    assert isinstance(body, dict) and set(body) == {"error", "message"}, body
    assert headers.get("Cache-Control") == "no-store", headers


def test_sign_in_refuses_a_multipart_form(stack: LocalStack) -> None:
    boundary = "sessiongate"
    form = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (("email", stack.demo_email), ("password", stack.demo_password))
    )
    content_type = f"multipart/form-data; boundary={boundary}"
    status, _, body = post(stack, "/auth/sign-in", f"{form}--{boundary}--\r\n".encode(), content_type)
    assert status == 400 and body["error"] == "invalid_request", (status, body)


@pytest.mark.xfail(strict=True, reason="known defect: the local API emulator answers a non-UTF-8 body 502")
def test_a_body_that_is_not_utf8_is_not_a_server_error(stack: LocalStack) -> None:
    status, _, body = post(stack, "/auth/sign-in", b"\x9f\xc1\x9b", "application/json")
    assert 400 <= status < 500, (status, body)
