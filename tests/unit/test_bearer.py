"""functions.authorizer.app.bearer_token: the Authorization header's Bearer scheme (C04)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.authorizer.app import bearer_token

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(scheme: str) -> None:
    # Given an Authorization header with the Bearer scheme in any case
    # When the token is taken from it, Then it is the token, unchanged
    assert bearer_token(f"{scheme} {TOKEN}") == TOKEN


def test_short_token_is_returned() -> None:
    # Given the shortest possible token
    # When it is taken, Then it is returned (judging it is the verifier's job)
    assert bearer_token("Bearer x") == "x"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "bearer",
        f"Basic {TOKEN}",
        "Basic dXNlcjpwYXNz",
        f"Token {TOKEN}",
        f"Bearerx {TOKEN}",
        f"Bear {TOKEN}",
        TOKEN,
        "x",
        f"Bearer  {TOKEN}",
        f"Bearer {TOKEN} ",
        f" Bearer {TOKEN}",
        f"Bearer {TOKEN} {TOKEN}",
        f"Bearer\t{TOKEN}",
        "",
        " ",
    ],
)
def test_anything_else_gives_no_token(header: str) -> None:
    # Given a header without exactly "Bearer <token>" (missing token, other scheme, extra spaces)
    # When the token is taken, Then it is empty, without an IndexError or any other exception
    assert bearer_token(header) == ""


@pytest.mark.parametrize("header", [None, 123, [], ["Bearer x"], {"Bearer": "x"}, b"Bearer x", 1.5, True])
def test_non_string_header_gives_no_token(header: Any) -> None:
    # Given a header value that is not a string (a hand-made test event, a malformed request)
    # When the token is taken, Then it is empty, without an exception
    assert bearer_token(header) == ""
