"""Browser cookie mode through the real handlers: Set-Cookie attributes, refresh from the cookie,
the X-Session-Mode header as the CSRF guard, cookies cleared on sign-out, and CORS."""

from __future__ import annotations

import dataclasses
import importlib
import json
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from functions.authorizer import app as authorizer
from functions.me import app as me
from functions.rotate import app as rotate
from functions.sessions import app as sessions_function
from functions.sign_in import app as sign_in
from functions.sign_out import app as sign_out
from tests.helpers import FakeContext, proxy_event, response_json, token_event
from tests.integration.conftest import DEMO_PASSWORD, raw_session

COOKIE_MODE = {"X-Session-Mode": "cookie"}
APP_ORIGIN = "https://app.example.com"


def set_cookies(response: dict[str, Any]) -> dict[str, str]:
    """name -> the whole Set-Cookie line; each cookie is its own multiValueHeaders entry."""
    assert "Set-Cookie" not in (response.get("headers") or {})  # never one comma-joined header
    lines = (response.get("multiValueHeaders") or {}).get("Set-Cookie", [])
    found = {line.split("=", 1)[0]: line for line in lines}
    assert len(found) == len(lines)
    return found


def attributes(line: str) -> dict[str, str]:
    name_value, *rest = line.split("; ")
    return {"value": name_value.split("=", 1)[1], **{a.partition("=")[0]: a.partition("=")[2] for a in rest}}


def cookie_sign_in(headers: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"email": "ada@example.com", "password": DEMO_PASSWORD}
    event = proxy_event("sign_in", body=body, headers={**COOKIE_MODE, **(headers or {})})
    return sign_in.lambda_handler(event, FakeContext())


def refresh_with(headers: dict[str, str], body: Any = None) -> dict[str, Any]:
    event = proxy_event("refresh", headers=headers)
    event["body"] = None if body is None else json.dumps(body)
    return rotate.lambda_handler(event, FakeContext())


def authorizer_context(access_token: str) -> dict[str, Any]:
    policy = authorizer.lambda_handler(token_event(f"Bearer {access_token}"), FakeContext())
    return {"principalId": policy["principalId"], **policy["context"]}


@pytest.fixture
def with_settings(monkeypatch) -> Iterator[Any]:
    """Change the cookie settings of the sign-in, refresh, sign-out and sessions functions."""

    def apply(**changes: Any) -> None:
        for module in (sign_in, rotate, sign_out, sessions_function):
            monkeypatch.setattr(module, "settings", dataclasses.replace(module.settings, **changes))

    yield apply


# --- sign-in and refresh set cookies ------------------------------------------------------


def test_cookie_mode_sign_in_sets_the_refresh_cookie_for_the_auth_routes_only(user, settings):
    # Given a sign-in in cookie mode
    response = cookie_sign_in()
    assert response["statusCode"] == 200
    body = response_json(response)
    # Then the refresh token is an HttpOnly, Secure, SameSite=Strict cookie, not in the body
    refresh = attributes(set_cookies(response)["sg_refresh"])
    assert "refreshToken" not in body and refresh["value"].startswith("rt1.")
    assert {"HttpOnly", "Secure"} <= refresh.keys() and refresh["SameSite"] == "Strict"
    # Scoped to the auth routes under the stage the browser sees (/prod), for as long as the session
    assert refresh["Path"] == "/prod/auth"
    assert abs(int(refresh["Max-Age"]) - settings.idle_timeout) <= 2
    # No access-token cookie by default: the access token is in the body, for the Bearer header
    assert set(set_cookies(response)) == {"sg_refresh"} and body["accessToken"].count(".") == 2


def test_without_cookie_mode_nothing_is_set_and_both_tokens_are_in_the_body(user):
    response = sign_in.lambda_handler(
        proxy_event("sign_in", body={"email": "ada@example.com", "password": DEMO_PASSWORD}), FakeContext()
    )
    assert set_cookies(response) == {}
    assert {"accessToken", "refreshToken"} <= response_json(response).keys()


def test_access_cookie_and_lax_are_configurable_and_go_out_as_two_set_cookie_lines(user, settings, with_settings):
    # Given ACCESS_TOKEN_COOKIE=true and COOKIE_SAME_SITE=Lax
    with_settings(access_token_cookie=True, cookie_same_site="Lax")
    response = cookie_sign_in()
    cookies = set_cookies(response)
    # Then two Set-Cookie values, each its own list entry, both SameSite=Lax
    assert set(cookies) == {"sg_refresh", "sg_access"}
    access = attributes(cookies["sg_access"])
    assert access["Path"] == "/prod/" and access["SameSite"] == "Lax" and {"HttpOnly", "Secure"} <= access.keys()
    assert int(access["Max-Age"]) == settings.access_token_ttl
    assert attributes(cookies["sg_refresh"])["SameSite"] == "Lax"
    # And neither token is left in the body
    assert not {"accessToken", "refreshToken"} & response_json(response).keys()


def test_a_custom_domain_without_a_stage_scopes_the_cookie_to_slash_auth(user):
    event = proxy_event("sign_in", body={"email": "ada@example.com", "password": DEMO_PASSWORD}, headers=COOKIE_MODE)
    event["requestContext"]["path"] = "/auth/sign-in"
    cookies = set_cookies(sign_in.lambda_handler(event, FakeContext()))
    assert attributes(cookies["sg_refresh"])["Path"] == "/auth"


@pytest.mark.parametrize(
    "full_path",
    ["/prod;Domain=evil.example;Path=/x/auth/sign-in", "/prod\r\nSet-Cookie: a=b/auth/sign-in", "/pr%6Fd/auth/sign-in"],
)
def test_a_request_path_cannot_smuggle_cookie_attributes(user, full_path):
    # Given a request context path that is not plain path segments in front of the route
    event = proxy_event("sign_in", body={"email": "ada@example.com", "password": DEMO_PASSWORD}, headers=COOKIE_MODE)
    event["requestContext"]["path"] = full_path
    line = set_cookies(sign_in.lambda_handler(event, FakeContext()))["sg_refresh"]
    # Then the cookie is scoped to /auth and carries only its own attributes
    assert attributes(line)["Path"] == "/auth"
    assert "Domain" not in attributes(line) and "\r" not in line and "\n" not in line


def test_refresh_reads_the_cookie_in_cookie_mode_and_replaces_it(user):
    # Given a cookie-mode session
    first = attributes(set_cookies(cookie_sign_in())["sg_refresh"])["value"]
    # When the browser refreshes with only its cookie (no body)
    response = refresh_with({**COOKIE_MODE, "Cookie": f"theme=dark; sg_refresh={first}"})
    # Then a new pair is issued and the cookie is replaced by the successor
    assert response["statusCode"] == 200
    second = attributes(set_cookies(response)["sg_refresh"])["value"]
    assert second != first and second.startswith("rt1.")
    assert "refreshToken" not in response_json(response)


def test_a_refresh_cookie_without_the_mode_header_is_ignored_csrf(user, tables):
    # Given the refresh cookie a browser would attach to a cross-site form post
    token = attributes(set_cookies(cookie_sign_in())["sg_refresh"])["value"]
    session_id = token.split(".")[1]
    before = raw_session(tables, session_id)
    # When the request lacks X-Session-Mode: cookie
    response = refresh_with({"Cookie": f"sg_refresh={token}"})
    # Then it is a 400 (no token given), and the session is untouched
    assert response["statusCode"] == 400 and response_json(response)["error"] == "invalid_request"
    assert raw_session(tables, session_id) == before
    assert set_cookies(response) == {}


def test_cookie_mode_refresh_without_a_cookie_is_invalid_token(user):
    response = refresh_with(COOKIE_MODE, body={})
    assert response["statusCode"] == 401 and response_json(response)["error"] == "invalid_token"


def test_a_refresh_token_in_the_body_still_works_in_cookie_mode(user):
    response = sign_in.lambda_handler(
        proxy_event("sign_in", body={"email": "ada@example.com", "password": DEMO_PASSWORD}), FakeContext()
    )
    token = response_json(response)["refreshToken"]
    refreshed = refresh_with(COOKIE_MODE, body={"refreshToken": token})
    assert refreshed["statusCode"] == 200 and "sg_refresh" in set_cookies(refreshed)


# --- sign-out clears ----------------------------------------------------------------------


def assert_cleared(response: dict[str, Any]) -> None:
    cookies = set_cookies(response)
    assert set(cookies) == {"sg_refresh", "sg_access"}
    refresh, access = attributes(cookies["sg_refresh"]), attributes(cookies["sg_access"])
    assert refresh["value"] == access["value"] == ""
    assert refresh["Max-Age"] == access["Max-Age"] == "0"
    assert (refresh["Path"], access["Path"]) == ("/prod/auth", "/prod/")


def test_sign_out_clears_both_cookies(user):
    access_token = response_json(cookie_sign_in())["accessToken"]
    event = proxy_event("sign_out", authorizer=authorizer_context(access_token), headers=COOKIE_MODE)
    response = sign_out.lambda_handler(event, FakeContext())
    assert response["statusCode"] == 204
    assert_cleared(response)


def test_sign_out_all_clears_the_cookies_unless_the_current_session_is_kept(user):
    kept = authorizer_context(response_json(cookie_sign_in())["accessToken"])
    keep = sessions_function.lambda_handler(
        proxy_event("sign_out_all", body={"keepCurrent": True}, authorizer=kept), FakeContext()
    )
    assert keep["statusCode"] == 200 and set_cookies(keep) == {}
    everything = sessions_function.lambda_handler(proxy_event("sign_out_all", body={}, authorizer=kept), FakeContext())
    assert everything["statusCode"] == 200
    assert_cleared(everything)


# --- CORS ---------------------------------------------------------------------------------


@pytest.fixture
def cors_me(monkeypatch) -> Iterator[ModuleType]:
    """The /me function loaded with CORS_ALLOWED_ORIGINS (its resolver is built at import)."""
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", f"{APP_ORIGIN},http://localhost:3000")
    yield importlib.reload(me)
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS")
    importlib.reload(me)


def test_cors_answers_a_listed_origin_with_credentials_and_no_other(user, cors_me):
    # Given /me behind the authorizer, called from the listed origin
    context = authorizer_context(response_json(cookie_sign_in())["accessToken"])
    allowed = cors_me.lambda_handler(
        proxy_event("me", authorizer=context, headers={"Origin": APP_ORIGIN}), FakeContext()
    )
    headers = allowed["multiValueHeaders"]
    assert allowed["statusCode"] == 200
    assert headers["Access-Control-Allow-Origin"] == [APP_ORIGIN]
    assert headers["Access-Control-Allow-Credentials"] == ["true"]
    assert headers["Vary"] == ["Origin"]  # a cache in front must not serve it to another origin
    # From another origin: no CORS headers, so the browser keeps the answer from that page
    other = cors_me.lambda_handler(
        proxy_event("me", authorizer=context, headers={"Origin": "https://evil.example"}), FakeContext()
    )
    assert other["statusCode"] == 200
    assert not any(name.startswith("Access-Control-") for name in other["multiValueHeaders"])


def test_cors_preflight_lets_a_listed_origin_send_the_mode_header(cors_me):
    event = proxy_event("me", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"})
    event["httpMethod"] = "OPTIONS"
    event["requestContext"].pop("authorizer", None)  # preflights carry no credentials
    response = cors_me.lambda_handler(event, FakeContext())
    headers = {name: values[0] for name, values in response["multiValueHeaders"].items()}
    assert response["statusCode"] == 204
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "X-Session-Mode" in headers["Access-Control-Allow-Headers"].split(",")
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Vary"] == "Origin"


def test_without_origins_there_are_no_cors_headers(user):
    context = authorizer_context(response_json(cookie_sign_in())["accessToken"])
    response = me.lambda_handler(proxy_event("me", authorizer=context, headers={"Origin": APP_ORIGIN}), FakeContext())
    assert not any(name.startswith("Access-Control-") for name in response["multiValueHeaders"])


def test_sign_in_time_does_not_move_the_refresh_cookie_past_the_session(user, tables):
    # Max-Age ends with the session's idle window as stored, never later
    response = cookie_sign_in()
    refresh = attributes(set_cookies(response)["sg_refresh"])
    stored = raw_session(tables, refresh["value"].split(".")[1])
    assert stored is not None
    assert int(time.time()) + int(refresh["Max-Age"]) <= int(stored["expires"]["N"]) + 1
