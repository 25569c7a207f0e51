"""functions.authorizer.app.request_token: the access token of REQUEST and HTTP API events.

A cookie counts only in cookie mode (`X-Session-Mode: cookie`, the CSRF guard)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.authorizer.app import request_token
from sessiongate.cookies import cookie_value

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"
MODE = {"X-Session-Mode": "cookie"}


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
def test_authorization_header_name_is_case_insensitive(name: str) -> None:
    assert request_token({name: f"Bearer {TOKEN}", "Accept": "*/*"}) == TOKEN


def test_cookie_is_read_in_cookie_mode_when_there_is_no_authorization_header() -> None:
    # REST: the Cookie header (any case); HTTP API payload 2.0: the cookies list
    assert request_token({**MODE, "Cookie": f"theme=dark; sg_access={TOKEN}"}) == TOKEN
    assert request_token({"x-session-mode": "Cookie", "cookie": f"sg_access={TOKEN}"}) == TOKEN
    assert request_token(MODE, cookies=["theme=dark", f"sg_access={TOKEN}"]) == TOKEN
    # REST keeps every Cookie header of an HTTP/2 request in multiValueHeaders only
    multi = {"X-Session-Mode": ["cookie"], "cookie": ["theme=dark", f"sg_access={TOKEN}"]}
    assert request_token({"cookie": "theme=dark"}, multi) == TOKEN


@pytest.mark.parametrize(
    "mode",
    [{}, {"X-Session-Mode": "bearer"}, {"X-Session-Mode": ""}, {"X-Session-Mode": "cookie", "x-session-mode": "no"}],
)
def test_a_cookie_without_the_cookie_mode_header_authenticates_nothing(mode: dict[str, str]) -> None:
    # Given the access cookie a browser attaches to any request, even a cross-site form's (CSRF)
    # When the request lacks X-Session-Mode: cookie (or sends it twice, differently), Then no token
    assert request_token({**mode, "Cookie": f"sg_access={TOKEN}"}) == ""
    assert request_token(mode, cookies=[f"sg_access={TOKEN}"]) == ""


def test_an_authorization_header_wins_over_the_cookie_even_when_unusable() -> None:
    assert request_token({**MODE, "Authorization": "Bearer other", "Cookie": f"sg_access={TOKEN}"}) == "other"
    # Given a malformed Authorization header, Then no fallback to the cookie: refused
    assert request_token({**MODE, "Authorization": f"Basic {TOKEN}", "Cookie": f"sg_access={TOKEN}"}) == ""


@pytest.mark.parametrize(
    ("headers", "multi", "cookies"),
    [
        ({"Authorization": f"Bearer {TOKEN}", "authorization": f"Bearer {TOKEN}"}, None, None),
        ({"Authorization": f"Bearer {TOKEN}"}, {"Authorization": [f"Bearer {TOKEN}", "Bearer x"]}, None),
        ({}, {"authorization": [f"Bearer {TOKEN}"]}, None),
        (MODE, None, [f"sg_access={TOKEN}", "sg_access=other"]),
        ({**MODE, "Cookie": f"sg_access={TOKEN}; sg_access=other"}, None, None),
        ({**MODE, "Cookie": f"sg_access_old={TOKEN}; xsg_access={TOKEN}"}, None, None),
        ({**MODE, "Cookie": f"sg_access {TOKEN}"}, None, None),
        ({}, None, None),
        (None, None, None),
        ([("Authorization", f"Bearer {TOKEN}")], None, None),
        ({"Authorization": None}, None, None),
        ({"Authorization": [f"Bearer {TOKEN}"]}, None, None),
        ({1: f"Bearer {TOKEN}"}, None, None),
        ({}, "not a dict", "not a list"),
        ({**MODE, "Cookie": 42}, {"cookie": "not a list"}, [None, 3]),
        ({"X-Session-Mode": ["cookie"], "Cookie": f"sg_access={TOKEN}"}, None, None),
    ],
)
def test_repeated_ambiguous_or_malformed_gives_no_token(headers: Any, multi: Any, cookies: Any) -> None:
    # Given two different tokens, a repeated header, or values of the wrong type
    # When the token is looked for, Then there is none (fail closed), without an exception
    assert request_token(headers, multi, cookies) == ""


def test_the_same_cookie_twice_with_one_value_is_that_value() -> None:
    assert cookie_value([f"sg_access={TOKEN}", f"a=b; sg_access={TOKEN}"], "sg_access") == TOKEN
