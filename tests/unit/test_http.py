"""sessiongate.http: request models, the error shape and the token response of DESIGN.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from sessiongate.http import RefreshRequest, SignInRequest, error, json_response, token_response
from sessiongate.sessions import IssuedTokens, UserView

SESSION_EXPIRES = 1_769_817_600  # 2026-01-31T00:00:00Z


def body_of(response: Any) -> Any:
    return json.loads(response.body)


# --- request models --------------------------------------------------------------------------


def test_sign_in_request_accepts_a_valid_body() -> None:
    # Given a sign-in body, with an unknown extra field
    body = {"email": "ada@example.com", "password": "correct horse", "remember": True}

    # When it is validated
    request = SignInRequest.model_validate(body)

    # Then both fields are kept as given and the extra one is ignored
    assert (request.email, request.password) == ("ada@example.com", "correct horse")
    assert not hasattr(request, "remember")


def test_sign_in_request_accepts_max_lengths() -> None:
    # Given the longest email (320) and password (1024)
    body = {"email": "a" * 300 + "@" + "b" * 19, "password": "p" * 1024}

    # When it is validated, Then it passes
    assert len(SignInRequest.model_validate(body).email) == 320


@pytest.mark.parametrize(
    "body",
    [
        {"email": 12345, "password": "correct horse"},
        {"email": "ada@example.com", "password": 12345678},
        {"email": ["ada@example.com"], "password": "correct horse"},
        {"email": "ada@example.com", "password": None},
        {"email": True, "password": "correct horse"},
        {"email": b"ada@example.com", "password": "correct horse"},
        {"email": {"address": "ada@example.com"}, "password": "correct horse"},
    ],
)
def test_sign_in_request_refuses_wrong_types(body: dict[str, Any]) -> None:
    # Given a field of the wrong JSON type (strict: no coercion of a number into a string)
    # When it is validated, Then it is refused
    with pytest.raises(ValidationError):
        SignInRequest.model_validate(body)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a" * 310 + "@example.com", "password": "correct horse"},
        {"email": "ada@example.com", "password": "p" * 1025},
        {"email": "ada@example.com", "password": ""},
        {"email": "", "password": "correct horse"},
    ],
)
def test_sign_in_request_refuses_bad_lengths(body: dict[str, Any]) -> None:
    # Given a field too long (or empty)
    # When it is validated, Then it is refused
    with pytest.raises(ValidationError):
        SignInRequest.model_validate(body)


@pytest.mark.parametrize("body", [{}, {"email": "ada@example.com"}, {"password": "correct horse"}])
def test_sign_in_request_refuses_missing_fields(body: dict[str, Any]) -> None:
    # Given a body without one of the fields
    # When it is validated, Then it is refused
    with pytest.raises(ValidationError):
        SignInRequest.model_validate(body)


def test_refresh_request_accepts_a_valid_body() -> None:
    # Given a refresh body as the contract spells it
    # When it is validated, Then the token is read from refreshToken
    assert RefreshRequest.model_validate({"refreshToken": "rt1.a.0.b.c"}).refresh_token == "rt1.a.0.b.c"


def test_refresh_request_accepts_the_max_length() -> None:
    # Given a 512-character token
    # When it is validated, Then it passes
    assert len(RefreshRequest.model_validate({"refreshToken": "r" * 512}).refresh_token) == 512


@pytest.mark.parametrize(
    "body",
    [
        {"refreshToken": 12345},
        {"refreshToken": ["rt1.a.0.b.c"]},
        {"refreshToken": {"value": "rt1"}},
        {"refreshToken": True},
        {"refreshToken": ""},
        {"refreshToken": "r" * 513},
    ],
)
def test_refresh_request_refuses_bad_bodies(body: dict[str, Any]) -> None:
    # Given a mistyped, empty or too long refresh token
    # When it is validated, Then it is refused
    with pytest.raises(ValidationError):
        RefreshRequest.model_validate(body)


@pytest.mark.parametrize("body", [{"refreshToken": None}, {}, {"refresh_token_typo": "rt1.a.0.b.c"}])
def test_refresh_request_without_a_token_leaves_it_to_the_cookie_or_a_400(body: dict[str, Any]) -> None:
    # A missing token is valid for the model (cookie mode reads the sg_refresh cookie); the
    # handler answers 400 outside cookie mode (tests/integration/test_cookies.py)
    assert RefreshRequest.model_validate(body).refresh_token is None


# --- error and JSON responses -------------------------------------------------------------------


def test_error_has_the_contract_shape_and_is_not_cached() -> None:
    # Given a domain error mapped to a response
    response = error(401, "invalid_token", "The token is invalid, expired or revoked.")

    # Then it is JSON {"error", "message"} with no-store caching
    assert response.status_code == 401
    assert body_of(response) == {"error": "invalid_token", "message": "The token is invalid, expired or revoked."}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_error_keeps_extra_headers_and_no_store() -> None:
    # Given a 429 with Retry-After
    response = error(429, "too_many_attempts", "Too many failed sign-ins; try again later.", {"Retry-After": "42"})

    # Then the extra header is added without losing no-store
    assert response.headers["Retry-After"] == "42"
    assert response.headers["Cache-Control"] == "no-store"
    assert set(body_of(response)) == {"error", "message"}


def test_error_escapes_its_message_as_json() -> None:
    # Given a message with quotes and non-ASCII text
    response = error(400, "invalid_request", 'email: "bad" ünïcode')

    # Then the body is still valid JSON with the message intact
    assert body_of(response)["message"] == 'email: "bad" ünïcode'


def test_json_response_is_not_cached() -> None:
    # Given any JSON success response
    response = json_response(200, {"user": {"id": "u"}})

    # Then it is JSON and no-store
    assert body_of(response) == {"user": {"id": "u"}}
    assert response.headers["Cache-Control"] == "no-store"


# --- token response ---------------------------------------------------------------------------------


def _issued(name: str | None = "Ada Lovelace") -> IssuedTokens:
    return IssuedTokens(
        access_token="header.payload.signature",
        refresh_token="rt1.session.0.nonce.tag",
        expires_in=900,
        session_id="session-1",
        session_expires=SESSION_EXPIRES,
        user=UserView(id="user-1", email="ada@example.com", name=name, role="ADMIN"),
    )


def test_token_response_matches_the_contract_exactly() -> None:
    # Given tokens issued at sign-in or refresh
    # When they are turned into the HTTP response
    response = token_response(_issued())

    # Then the body has exactly the documented keys and values
    assert response.status_code == 200
    assert body_of(response) == {
        "accessToken": "header.payload.signature",
        "refreshToken": "rt1.session.0.nonce.tag",
        "tokenType": "Bearer",
        "expiresIn": 900,
        "session": {"id": "session-1", "expires": "2026-01-31T00:00:00Z"},
        "user": {"id": "user-1", "email": "ada@example.com", "name": "Ada Lovelace", "role": "ADMIN"},
    }


def test_token_response_session_expiry_is_iso_8601_utc() -> None:
    # Given a session expiring at an arbitrary second
    issued = _issued()
    odd = IssuedTokens(**{**issued.__dict__, "session_expires": SESSION_EXPIRES + 3661})

    # When it is turned into the response
    expires = body_of(token_response(odd))["session"]["expires"]

    # Then the expiry is ISO 8601 in UTC, ends in Z and is that very second
    assert expires.endswith("Z")
    parsed = datetime.fromisoformat(expires)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
    assert parsed == datetime.fromtimestamp(SESSION_EXPIRES + 3661, tz=UTC)
    assert int(parsed.timestamp()) == SESSION_EXPIRES + 3661


def test_token_response_types_and_caching() -> None:
    # Given a token response
    response = token_response(_issued())
    body = body_of(response)

    # Then expiresIn is an integer number of seconds and the response may not be cached (RFC 6749 5.1)
    assert type(body["expiresIn"]) is int
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"


def test_token_response_with_a_nameless_user_keeps_the_key() -> None:
    # Given a user without a name
    # When tokens are answered, Then user still has exactly id, email, name and role
    user = body_of(token_response(_issued(name=None)))["user"]
    assert set(user) == {"id", "email", "name", "role"}
