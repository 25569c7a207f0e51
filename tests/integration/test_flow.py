"""The walkthrough through the real handlers on moto: sign-in, authorizer, /me, refresh, sign-out."""

from __future__ import annotations

import pytest

from functions.authorizer import app as authorizer
from functions.me import app as me
from functions.rotate import app as rotate
from functions.sign_in import app as sign_in
from functions.sign_out import app as sign_out
from tests.helpers import FakeContext, proxy_event, response_json, token_event
from tests.integration.conftest import DEMO_PASSWORD


def do_sign_in(email: str = "ada@example.com", password: str = DEMO_PASSWORD, **kwargs) -> dict:
    return sign_in.lambda_handler(
        proxy_event("sign_in", body={"email": email, "password": password}, **kwargs), FakeContext()
    )


def authorize(access_token: str, method_arn: str | None = None) -> dict:
    event = token_event(f"Bearer {access_token}", *([method_arn] if method_arn else []))
    return authorizer.lambda_handler(event, FakeContext())


def context_of(policy: dict) -> dict:
    return {"principalId": policy["principalId"], **policy["context"]}


def test_sign_in_me_refresh_sign_out(user):
    # Given a signed-in user
    response = do_sign_in()
    assert response["statusCode"] == 200
    tokens = response_json(response)
    assert tokens["tokenType"] == "Bearer"
    assert tokens["user"] == {"id": user.id, "email": "ada@example.com", "name": "Ada", "role": "USER"}
    assert tokens["session"]["expires"].endswith("Z")
    assert 0 < tokens["expiresIn"] <= 900

    # When the authorizer sees the access token, then /me answers with the user and session
    policy = authorize(tokens["accessToken"])
    assert policy["principalId"] == user.id
    profile = me.lambda_handler(proxy_event("me", authorizer=context_of(policy)), FakeContext())
    assert profile["statusCode"] == 200
    assert response_json(profile) == {"user": tokens["user"], "session": tokens["session"]}

    # When refreshed, a new pair comes back and the old access token still names a live session
    refreshed = rotate.lambda_handler(
        proxy_event("refresh", body={"refreshToken": tokens["refreshToken"]}), FakeContext()
    )
    assert refreshed["statusCode"] == 200
    pair = response_json(refreshed)
    assert pair["refreshToken"] != tokens["refreshToken"]
    assert pair["session"]["id"] == tokens["session"]["id"]

    # When signed out, the still-unexpired access token is refused and the refresh token is dead
    out = sign_out.lambda_handler(
        proxy_event("sign_out", authorizer=context_of(authorize(pair["accessToken"]))), FakeContext()
    )
    assert out["statusCode"] == 204, out
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorize(pair["accessToken"])
    dead = rotate.lambda_handler(proxy_event("refresh", body={"refreshToken": pair["refreshToken"]}), FakeContext())
    assert dead["statusCode"] == 401
    assert response_json(dead)["error"] == "invalid_token"


def test_base64_body_is_accepted(user):
    response = do_sign_in(base64_body=True)
    assert response["statusCode"] == 200
