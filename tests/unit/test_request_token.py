"""functions.authorizer.app.request_token: the access token of REQUEST and HTTP API events."""

from __future__ import annotations

from typing import Any

import pytest

from functions.authorizer.app import cookie_value, request_token

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
def test_authorization_header_name_is_case_insensitive(name: str) -> None:
    assert request_token({name: f"Bearer {TOKEN}", "Accept": "*/*"}) == TOKEN


def test_cookie_is_read_when_there_is_no_authorization_header() -> None:
    # REST: the Cookie header (any case); HTTP API payload 2.0: the cookies list
    assert request_token({"Cookie": f"theme=dark; sg_access={TOKEN}"}) == TOKEN
    assert request_token({"cookie": f"sg_access={TOKEN}"}) == TOKEN
    assert request_token({}, cookies=["theme=dark", f"sg_access={TOKEN}"]) == TOKEN
    # REST keeps every Cookie header of an HTTP/2 request in multiValueHeaders only
    assert request_token({"cookie": "theme=dark"}, {"cookie": ["theme=dark", f"sg_access={TOKEN}"]}) == TOKEN


def test_an_authorization_header_wins_over_the_cookie_even_when_unusable() -> None:
    assert request_token({"Authorization": "Bearer other", "Cookie": f"sg_access={TOKEN}"}) == "other"
    # Given a malformed Authorization header, Then no fallback to the cookie: refused
    assert request_token({"Authorization": f"Basic {TOKEN}", "Cookie": f"sg_access={TOKEN}"}) == ""


@pytest.mark.parametrize(
    ("headers", "multi", "cookies"),
    [
        ({"Authorization": f"Bearer {TOKEN}", "authorization": f"Bearer {TOKEN}"}, None, None),
        ({"Authorization": f"Bearer {TOKEN}"}, {"Authorization": [f"Bearer {TOKEN}", "Bearer x"]}, None),
        ({}, {"authorization": [f"Bearer {TOKEN}"]}, None),
        ({}, None, [f"sg_access={TOKEN}", "sg_access=other"]),
        ({"Cookie": f"sg_access={TOKEN}; sg_access=other"}, None, None),
        ({"Cookie": f"sg_access_old={TOKEN}; xsg_access={TOKEN}"}, None, None),
        ({"Cookie": f"sg_access {TOKEN}"}, None, None),
        ({}, None, None),
        (None, None, None),
        ([("Authorization", f"Bearer {TOKEN}")], None, None),
        ({"Authorization": None}, None, None),
        ({"Authorization": [f"Bearer {TOKEN}"]}, None, None),
        ({1: f"Bearer {TOKEN}"}, None, None),
        ({}, "not a dict", "not a list"),
        ({"Cookie": 42}, {"cookie": "not a list"}, [None, 3]),
    ],
)
def test_repeated_ambiguous_or_malformed_gives_no_token(headers: Any, multi: Any, cookies: Any) -> None:
    # Given two different tokens, a repeated header, or values of the wrong type
    # When the token is looked for, Then there is none (fail closed), without an exception
    assert request_token(headers, multi, cookies) == ""


def test_the_same_cookie_twice_with_one_value_is_that_value() -> None:
    assert cookie_value([f"sg_access={TOKEN}", f"a=b; sg_access={TOKEN}"], "sg_access") == TOKEN
