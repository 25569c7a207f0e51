"""Over real HTTP through the local stack: browser cookie mode with CSRF and CORS, the session
routes (list, revoke one, sign out everywhere), password change, the session limit and the
admin route with its role rule."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import REPO, LocalStack

APP_ORIGIN = "http://localhost:5173"
COOKIE_MODE = {"X-Session-Mode": "cookie"}
SESSION_LIMIT = 2


@pytest.fixture(scope="module")
def browser_stack(launch_stack: Callable[..., LocalStack]) -> LocalStack:
    """CORS for one origin, SameSite=Lax, at most two sessions a user, no authorizer cache."""
    overrides = (
        f"CorsAllowedOrigins={APP_ORIGIN} CookieSameSite=Lax "
        f"MaxSessionsPerUser={SESSION_LIMIT} AuthorizerCacheTtlSeconds=0"
    )
    # A demo password that begins with "-", as secrets.token_urlsafe draws one in 64 times:
    # seeding must not read it as an option.
    password = "-" + secrets.token_urlsafe(12)
    return launch_stack("browser", env={"PARAMETER_OVERRIDES": overrides, "DEMO_PASSWORD": password})


def call(
    stack: LocalStack, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, Any]:
    """One request with http.client, keeping every Set-Cookie header apart (urllib's dict would not)."""
    url = urlsplit(stack.base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {**({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})}
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        raw = response.read().decode()
        return response.status, response.headers, json.loads(raw) if raw else None
    finally:
        connection.close()


def cookies_of(headers: http.client.HTTPMessage) -> dict[str, dict[str, str]]:
    """name -> {value, attribute: value} of each Set-Cookie header."""
    found = {}
    for line in headers.get_all("Set-Cookie") or []:
        name_value, *rest = line.split("; ")
        name, _, value = name_value.partition("=")
        found[name] = {"value": value, **{a.partition("=")[0]: a.partition("=")[2] for a in rest}}
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_cli(stack: LocalStack, *args: str, password: str = "") -> str:
    """The layer's admin CLI against the stack's DynamoDB, as `make user` runs it; its stdout."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO / "layers" / "sessiongate"),
        "AWS_ENDPOINT_URL_DYNAMODB": stack.dynamodb_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - the local backends' dummy credentials
        "AWS_DEFAULT_REGION": "us-east-1",
        "AUTH_SECRET": stack.auth_secret,
        "SESSIONGATE_PASSWORD": password,
    }
    command = [sys.executable, "-m", "sessiongate.admin", "--json", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr
    return done.stdout


def create_user(stack: LocalStack, role: str = "USER") -> tuple[str, str]:
    """A new user through the admin CLI; returns (email, password)."""
    email, password = f"{role.lower()}-{secrets.token_hex(4)}@example.com", "e2e-" + secrets.token_urlsafe(12)
    admin_cli(stack, "create-user", "--email", email, "--role", role, password=password)
    return email, password


def sign_in(stack: LocalStack, email: str, password: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    status, _, body = call(stack, "POST", "/auth/sign-in", {"email": email, "password": password}, headers)
    assert status == 200, body
    return body


# --- cookie mode, CSRF, CORS --------------------------------------------------------------


def test_a_browser_signs_in_refreshes_and_signs_out_with_cookies(browser_stack: LocalStack) -> None:
    stack = browser_stack
    # Given a cookie-mode sign-in from the allowed origin
    body = {"email": stack.demo_email, "password": stack.demo_password}
    status, headers, tokens = call(stack, "POST", "/auth/sign-in", body, {**COOKIE_MODE, "Origin": APP_ORIGIN})
    assert status == 200 and "refreshToken" not in tokens
    refresh = cookies_of(headers)["sg_refresh"]
    assert {"HttpOnly", "Secure"} <= refresh.keys() and refresh["SameSite"] == "Lax" and refresh["Path"] == "/auth"
    assert headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert headers["Access-Control-Allow-Credentials"] == "true"

    # When the refresh cookie comes back without the mode header (a cross-site form): refused, cookie unread
    status, headers, answer = call(stack, "POST", "/auth/refresh", headers={"Cookie": f"sg_refresh={refresh['value']}"})
    assert (status, answer["error"]) == (400, "invalid_request") and not cookies_of(headers)

    # When it comes back in cookie mode: a new pair, and the cookie holds the successor
    cookie = {**COOKIE_MODE, "Cookie": f"theme=dark; sg_refresh={refresh['value']}"}
    status, headers, pair = call(stack, "POST", "/auth/refresh", headers=cookie)
    assert status == 200, pair
    successor = cookies_of(headers)["sg_refresh"]["value"]
    assert successor != refresh["value"]
    assert call(stack, "GET", "/me", headers=bearer(pair["accessToken"]))[0] == 200

    # When the browser signs out: two Set-Cookie headers expire both cookies
    status, headers, _ = call(stack, "POST", "/auth/sign-out", headers={**COOKIE_MODE, **bearer(pair["accessToken"])})
    assert status == 204
    cleared = cookies_of(headers)
    assert set(cleared) == {"sg_refresh", "sg_access"}
    assert all(c["value"] == "" and c["Max-Age"] == "0" for c in cleared.values())
    # Then the session is dead: its refresh cookie no longer works
    status, _, answer = call(
        stack, "POST", "/auth/refresh", headers={**COOKIE_MODE, "Cookie": f"sg_refresh={successor}"}
    )
    assert (status, answer["error"]) == (401, "invalid_token")


def test_cors_preflight_admits_the_listed_origin_only(browser_stack: LocalStack) -> None:
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-session-mode,content-type"}
    status, headers, _ = call(browser_stack, "OPTIONS", "/auth/refresh", headers={**ask, "Origin": APP_ORIGIN})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "X-Session-Mode" in headers["Access-Control-Allow-Headers"].split(",")
    assert "POST" in headers["Access-Control-Allow-Methods"].split(",")
    assert headers["Access-Control-Allow-Credentials"] == "true"
    _, headers, _ = call(browser_stack, "OPTIONS", "/auth/refresh", headers={**ask, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers


# --- session routes -----------------------------------------------------------------------


def test_sessions_are_listed_revoked_one_by_one_and_limited_per_user(browser_stack: LocalStack) -> None:
    stack = browser_stack
    email, password = create_user(stack)
    # Given two sessions (the limit) from two browsers, a second apart (createdAt is in whole
    # seconds, and "oldest" is by createdAt)
    first = sign_in(stack, email, password, {"User-Agent": "browser-one"})
    time.sleep(1.1)
    second = sign_in(stack, email, password, {"User-Agent": "browser-two"})
    time.sleep(1.1)
    status, _, listed = call(stack, "GET", "/auth/sessions", headers=bearer(second["accessToken"]))
    assert status == 200
    by_id = {s["id"]: s for s in listed["sessions"]}
    assert set(by_id) == {first["session"]["id"], second["session"]["id"]}
    assert by_id[second["session"]["id"]]["current"] is True and by_id[first["session"]["id"]]["current"] is False
    assert by_id[first["session"]["id"]]["userAgent"] == "browser-one"

    # When a third sign-in passes the limit, Then the oldest session is revoked
    third = sign_in(stack, email, password)
    assert call(stack, "GET", "/me", headers=bearer(first["accessToken"]))[0] == 401
    _, _, listed = call(stack, "GET", "/auth/sessions", headers=bearer(third["accessToken"]))
    assert {s["id"] for s in listed["sessions"]} == {second["session"]["id"], third["session"]["id"]}

    # When one is revoked by id, Then its token stops working and it leaves the list
    path = f"/auth/sessions/{second['session']['id']}"
    assert call(stack, "DELETE", path, headers=bearer(third["accessToken"]))[0] == 204
    assert call(stack, "GET", "/me", headers=bearer(second["accessToken"]))[0] == 401

    # And another user's session answers 404 exactly like one that does not exist
    other = sign_in(stack, stack.demo_email, stack.demo_password)
    foreign = call(stack, "DELETE", f"/auth/sessions/{other['session']['id']}", headers=bearer(third["accessToken"]))
    missing = call(stack, "DELETE", "/auth/sessions/" + "x" * 43, headers=bearer(third["accessToken"]))
    assert (foreign[0], foreign[2]) == (missing[0], missing[2]) == (404, foreign[2])
    assert foreign[2]["error"] == "session_not_found"
    assert call(stack, "GET", "/me", headers=bearer(other["accessToken"]))[0] == 200


def test_sign_out_all_keeps_the_current_session_when_asked(browser_stack: LocalStack) -> None:
    stack = browser_stack
    email, password = create_user(stack)
    old, current = sign_in(stack, email, password), sign_in(stack, email, password)
    status, _, body = call(stack, "POST", "/auth/sign-out-all", {"keepCurrent": True}, bearer(current["accessToken"]))
    assert (status, body) == (200, {"sessionsRevoked": 1})
    assert call(stack, "GET", "/me", headers=bearer(old["accessToken"]))[0] == 401
    assert call(stack, "GET", "/me", headers=bearer(current["accessToken"]))[0] == 200
    # Without keepCurrent the caller is signed out too, and its cookies are cleared
    status, headers, body = call(stack, "POST", "/auth/sign-out-all", {}, bearer(current["accessToken"]))
    assert (status, body) == (200, {"sessionsRevoked": 1})
    assert {c["Max-Age"] for c in cookies_of(headers).values()} == {"0"}
    assert call(stack, "GET", "/me", headers=bearer(current["accessToken"]))[0] == 401


def test_password_change_rechecks_the_current_password_and_revokes_the_other_sessions(
    browser_stack: LocalStack,
) -> None:
    stack = browser_stack
    email, password = create_user(stack)
    other, current = sign_in(stack, email, password), sign_in(stack, email, password)
    wrong = {"currentPassword": "not-the-password", "newPassword": "a-new-long-password"}
    status, _, body = call(stack, "POST", "/auth/password", wrong, bearer(current["accessToken"]))
    assert (status, body["error"]) == (401, "invalid_credentials")
    assert call(stack, "GET", "/me", headers=bearer(other["accessToken"]))[0] == 200

    change = {"currentPassword": password, "newPassword": "a-new-long-password"}
    status, _, body = call(stack, "POST", "/auth/password", change, bearer(current["accessToken"]))
    assert (status, body) == (200, {"sessionsRevoked": 1})
    assert call(stack, "GET", "/me", headers=bearer(other["accessToken"]))[0] == 401
    assert call(stack, "GET", "/me", headers=bearer(current["accessToken"]))[0] == 200
    assert call(stack, "POST", "/auth/sign-in", {"email": email, "password": password})[0] == 401
    sign_in(stack, email, "a-new-long-password")


def test_the_admin_route_is_for_admins_only(browser_stack: LocalStack) -> None:
    stack = browser_stack
    user = sign_in(stack, *create_user(stack))
    admin = sign_in(stack, *create_user(stack, role="ADMIN"))
    path = f"/admin/users/{user['user']['id']}/sessions"
    status, _, body = call(stack, "GET", path, headers=bearer(user["accessToken"]))
    assert (status, body) == (403, {"error": "forbidden", "message": "Forbidden"})
    status, _, body = call(stack, "GET", path, headers=bearer(admin["accessToken"]))
    assert status == 200
    assert [s["id"] for s in body["sessions"]] == [user["session"]["id"]]


def test_admin_cli_role_change_and_disable_revoke_the_sessions_at_once(browser_stack: LocalStack) -> None:
    stack = browser_stack
    email, password = create_user(stack)
    # Given a signed-in USER, When the CLI makes them ADMIN (ASVS 7.4.2), Then the session is revoked
    tokens = sign_in(stack, email, password)
    admin_cli(stack, "set-role", email, "ADMIN")
    assert call(stack, "GET", "/me", headers=bearer(tokens["accessToken"]))[0] == 401
    # And the next sign-in carries the new role
    tokens = sign_in(stack, email, password)
    assert tokens["user"]["role"] == "ADMIN"
    # When the CLI disables the user, Then the session is revoked and sign-in is refused
    admin_cli(stack, "disable-user", email)
    assert call(stack, "GET", "/me", headers=bearer(tokens["accessToken"]))[0] == 401
    status, _, body = call(stack, "POST", "/auth/sign-in", {"email": email, "password": password})
    assert (status, body["error"]) == (401, "invalid_credentials")
    users = {u["email"]: u for u in json.loads(admin_cli(stack, "list-users"))["users"]}
    assert users[email]["disabled"] is True and users[email]["role"] == "ADMIN"
