"""openapi.json: regenerated from the handlers and template.yaml, it must equal the committed file."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from openapi_spec_validator import validate

from sessiongate import errors
from sessiongate.config import load_settings
from sessiongate.http import (
    EMAIL_PATTERN,
    ERROR_CODES,
    ErrorResponse,
    MeResponse,
    TokenResponse,
    build_resolver,
    json_response,
    token_response,
)
from sessiongate.sessions import IssuedTokens, UserView
from tests.conftest import TEST_SECRET
from tests.helpers import FakeContext, proxy_event
from tools.openapi import OUTPUT, build_document, render


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def test_the_committed_description_is_up_to_date(document: dict[str, Any]) -> None:
    # Given the description generated from the handlers and template.yaml now
    # When it is compared with the committed openapi.json
    # Then they are identical (else: `make openapi`, and review the diff)
    assert OUTPUT.read_text(encoding="utf-8") == render(document), "openapi.json is stale: run `make openapi`"


def test_the_description_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_route_of_the_template_is_described_with_its_auth(document: dict[str, Any]) -> None:
    operations = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    public = {("POST", "/auth/sign-in"), ("POST", "/auth/refresh")}
    bearer = {
        ("POST", "/auth/sign-out"),
        ("GET", "/me"),
        ("GET", "/auth/sessions"),
        ("DELETE", "/auth/sessions/{session_id}"),
        ("POST", "/auth/sign-out-all"),
        ("POST", "/auth/password"),
        ("GET", "/admin/users/{user_id}/sessions"),
    }
    assert set(operations) == public | bearer
    for key in public:
        assert operations[key]["security"] == [], key
    for key in bearer:
        assert operations[key]["security"] == [{"bearerAuth": []}], key
        assert {"401", "403"} <= set(operations[key]["responses"]), key
    for key, operation in operations.items():
        assert "422" not in operation["responses"], key  # the resolvers answer 400 invalid_request
        assert {"429", "5XX"} <= set(operation["responses"]), key


def test_the_email_pattern_is_what_the_domain_accepts() -> None:
    # Given the documented pattern (ECMA-262 syntax, Python's whitespace spelled out)
    pattern = re.compile(EMAIL_PATTERN)
    whitespace = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}

    # Then it names exactly Python's whitespace, which str.strip and normalize_email's \s use
    for char in whitespace:
        assert pattern.match(f"{char}a@b"), hex(ord(char))
        assert not pattern.match(f"a{char}x@b"), hex(ord(char))
    # And it agrees with the domain on typical and hostile addresses
    from sessiongate.sessions import normalize_email

    for email in [
        "ada@example.com",
        "  Ada@Example.COM\t",
        "a@b",
        "000",
        "a@@b",
        "a b@c",
        "@b",
        "a@",
        "a@b@c",
        "\x1ea@b",
    ]:
        try:
            normalize_email(email)
            accepted = True
        except errors.InvalidRequest:
            accepted = False
        assert bool(pattern.match(email)) == accepted, email


ERRORS_RAISED = {
    "invalid_request": errors.InvalidRequest("bad"),
    "invalid_credentials": errors.InvalidCredentials(),
    "invalid_token": errors.InvalidToken(),
    "refresh_conflict": errors.RefreshConflict(),
    "too_many_attempts": errors.TooManyAttempts(30),
    "service_unavailable": errors.ServiceUnavailable(),
}


@pytest.mark.parametrize("code", sorted(ERRORS_RAISED))
def test_documented_error_codes_are_what_the_resolver_answers(code: str) -> None:
    # Given a resolver whose route raises the domain error behind a documented code
    app = build_resolver(load_settings({"AUTH_SECRET": TEST_SECRET}))

    @app.get("/boom")
    def boom() -> None:
        raise ERRORS_RAISED[code]

    event = proxy_event("me")
    event["path"] = event["resource"] = "/boom"

    # When it answers
    response = app.resolve(event, FakeContext())

    # Then status, code and Retry-After are as ERROR_CODES documents them, in ErrorResponse's shape
    status, retry_after, _ = ERROR_CODES[code]
    assert response["statusCode"] == status
    assert ErrorResponse.model_validate_json(response["body"]).error == code
    headers = response.get("multiValueHeaders") or {}
    assert ("Retry-After" in headers) == retry_after


def test_not_found_is_documented_as_the_resolver_answers_it() -> None:
    event = proxy_event("me")
    event["path"] = event["resource"] = "/nowhere"
    response = build_resolver(load_settings({"AUTH_SECRET": TEST_SECRET})).resolve(event, FakeContext())
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (ERROR_CODES["not_found"][0], "not_found")


def test_the_response_models_accept_what_the_handlers_send() -> None:
    # Given a token response and a /me body as the handlers build them
    user = UserView(id="u-1", email="ada@example.com", name=None, role="ADMIN")
    issued = IssuedTokens("h.p.s", "rt1.x", 900, "sid", 1_769_817_600, user)
    me = json_response(200, {"user": user.asdict(), "session": {"id": "sid", "expires": "2026-01-31T00:00:00Z"}})

    # Then the documented models (no extra fields allowed) accept them
    TokenResponse.model_validate_json(token_response(issued).body)
    MeResponse.model_validate_json(me.body)
