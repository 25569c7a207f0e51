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
from tests.helpers import FakeContext
from tests.integration.conftest import sign_in_as

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
        return sign_in_as(user, settings, provider.current(), passwords, now=now, user_agent=None, source_ip=None)

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
    issued = sign_in_as(user, settings, provider.current(), passwords, now=now, user_agent=None, source_ip=None)
    publish({"keys": [K2, K1]})
    current = sessions.rotate(settings, provider.current(), refresh_token=issued.refresh_token, now=now)
    publish({"keys": [K2]})
    # When the old token comes back, then it is refused, and (its tag unverifiable) the session stays
    with pytest.raises(InvalidToken):
        sessions.rotate(settings, provider.current(), refresh_token=issued.refresh_token, now=now + 60)
    assert sessions.rotate(settings, provider.current(), refresh_token=current.refresh_token, now=now + 61)


class RotatingSecretsManager:
    """moto's Secrets Manager as the rotation function sees it during RotateSecret: the new
    version id is already registered as AWSPENDING (moto cannot run a rotation Lambda)."""

    def __init__(self, client, token: str) -> None:
        self._client, self._token = client, token
        self.exceptions = client.exceptions

    def describe_secret(self, **kwargs):
        metadata = self._client.describe_secret(**kwargs)
        stages = metadata.setdefault("VersionIdsToStages", {})
        stages.setdefault(self._token, ["AWSPENDING"])
        return metadata

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_scheduled_rotation_steps_promote_next_and_keep_the_previous_key(moto_endpoint, tables):
    # Given the template's first secret, rotated by the rotation function's four steps, three times
    import uuid

    from sessiongate import rotation
    from sessiongate.keys import parse_key_set

    client = boto3.client("secretsmanager", endpoint_url=moto_endpoint)
    arn = client.create_secret(Name=f"sessiongate-rot-{time.time_ns()}", SecretString=json.dumps(K1))["ARN"]

    def rotate_once() -> list[str]:
        token = str(uuid.uuid4())
        during = RotatingSecretsManager(client, token)
        for step in ("createSecret", "createSecret", "setSecret", "testSecret", "finishSecret"):  # one retried
            rotation.run_step(secret_id=arn, token=token, step=step, client=during)
        # Stage named explicitly: after a stage move moto's default version is still the old one (AWS's is not).
        value = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        return [key.kid for key in parse_key_set(value).keys]

    first = rotate_once()
    assert first[0] == "k1" and len(first) == 2  # k1 still signs; the new key is published first
    second = rotate_once()
    assert second[0] == first[1] and second[2] == "k1" and len(second) == 3  # promoted; k1 still verifies
    third = rotate_once()
    assert third[0] == second[1] and third[2] == second[0] and "k1" not in third


def test_rotation_function_refuses_a_version_that_is_not_pending(moto_endpoint, tables):
    from functions.key_rotation import app as key_rotation

    client = boto3.client("secretsmanager", endpoint_url=moto_endpoint)
    arn = client.create_secret(Name=f"sessiongate-rot-{time.time_ns()}", SecretString=json.dumps(K1))["ARN"]
    event = {"Step": "createSecret", "SecretId": arn, "ClientRequestToken": "not-a-version-of-this-secret"}
    with pytest.raises(ValueError, match="not pending"):
        key_rotation.lambda_handler(event, FakeContext())
