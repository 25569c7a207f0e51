"""Signing-key rotation through a Secrets Manager key set (moto): nobody is signed out."""

from __future__ import annotations

import json
import time

import boto3
import jwt
import pytest
from aws_lambda_powertools.utilities import parameters

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.errors import InvalidToken
from sessiongate.keys import KeyProvider
from tests.integration.conftest import DEMO_PASSWORD

K1 = {"kid": "k1", "secret": "first-signing-secret-of-at-least-32-bytes"}
K2 = {"kid": "k2", "secret": "second-signing-secret-of-at-least-32-bytes"}


@pytest.fixture
def secret(moto_endpoint, tables):
    client = boto3.client("secretsmanager", endpoint_url=moto_endpoint)
    arn = client.create_secret(Name=f"sessiongate-keys-{time.time_ns()}", SecretString=json.dumps(K1))["ARN"]

    def publish(value: dict) -> None:
        client.put_secret_value(SecretId=arn, SecretString=json.dumps(value))
        parameters.clear_caches()  # what the 5-minute cache expiry does in Lambda

    parameters.clear_caches()
    yield arn, publish
    parameters.clear_caches()


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_add_promote_drop_keeps_everyone_signed_in(secret, user, passwords):
    arn, publish = secret
    settings = load_settings({"AUTH_SECRET_ARN": arn})
    provider = KeyProvider(settings)
    now = int(time.time())

    def sign_in():
        return sessions.sign_in(
            settings,
            provider.current(),
            passwords,
            email=user.email,
            password=DEMO_PASSWORD,
            user_agent=None,
            source_ip=None,
            now=now,
        )

    def authorize(token: str):
        return sessions.authorize(settings, provider.current(), access_token=token, now=now)

    # Given sessions opened under k1, the template's first key
    early, idle = sign_in(), sign_in()
    assert kid_of(early.access_token) == "k1"

    # Step 1: k2 joins as a verify-only key; k1 still signs
    publish({"keys": [K1, K2]})
    assert kid_of(sign_in().access_token) == "k1"
    authorize(early.access_token)

    # Step 2: k2 is promoted; new tokens use it, k1 tokens still verify and rotate
    publish({"keys": [K2, K1]})
    fresh = sign_in()
    assert kid_of(fresh.access_token) == "k2"
    authorize(early.access_token)
    rotated = sessions.rotate(settings, provider.current(), refresh_token=early.refresh_token, now=now)
    assert kid_of(rotated.access_token) == "k2"

    # Step 3: k1 is dropped; k1 access tokens (expired by now in practice) stop verifying,
    # but a session that never refreshed since keeps its refresh token working
    publish({"keys": [K2]})
    with pytest.raises(InvalidToken):
        authorize(idle.access_token)
    authorize(fresh.access_token)
    renewed = sessions.rotate(settings, provider.current(), refresh_token=idle.refresh_token, now=now)
    assert kid_of(renewed.access_token) == "k2"
    authorize(renewed.access_token)


def test_an_untrusted_superseded_token_is_refused_without_revoking(secret, user, passwords, tables):
    # Given a k1-tagged refresh token that was superseded, and k1 later removed from the key set
    arn, publish = secret
    settings = load_settings({"AUTH_SECRET_ARN": arn})
    provider = KeyProvider(settings)
    now = int(time.time())
    issued = sessions.sign_in(
        settings,
        provider.current(),
        passwords,
        email=user.email,
        password=DEMO_PASSWORD,
        user_agent=None,
        source_ip=None,
        now=now,
    )
    publish({"keys": [K2, K1]})
    current = sessions.rotate(settings, provider.current(), refresh_token=issued.refresh_token, now=now)
    publish({"keys": [K2]})
    # When the old token comes back, then it is refused, and (its tag unverifiable) the session stays
    with pytest.raises(InvalidToken):
        sessions.rotate(settings, provider.current(), refresh_token=issued.refresh_token, now=now + 60)
    assert sessions.rotate(settings, provider.current(), refresh_token=current.refresh_token, now=now + 61)
