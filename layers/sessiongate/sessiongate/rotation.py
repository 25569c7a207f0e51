"""Secrets Manager rotation of the signing key set (the four steps of a rotation Lambda).

Only the rotation function imports this module (and boto3 through it).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from sessiongate.keys import SigningKey, key_set_json, parse_key_set, rotated_key_set

PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"


def new_key() -> SigningKey:
    return SigningKey(f"k{secrets.token_hex(4)}", secrets.token_urlsafe(48).encode())


def _value(client: Any, secret_id: str, **version: str) -> dict:
    return json.loads(client.get_secret_value(SecretId=secret_id, **version)["SecretString"])


def run_step(*, secret_id: str, token: str, step: str, client: Any = None) -> None:
    """Carry out one rotation step for version `token` of the secret."""
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    # Secrets Manager registers `token` as AWSPENDING before it calls the first step.
    stages = client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
    if CURRENT in stages.get(token, []):
        return  # this version is already the current one: a retried or finished rotation
    if PENDING not in stages.get(token, []):
        raise ValueError(f"version {token} of the secret is not pending rotation")
    if step == "createSecret":
        if _has_version(client, secret_id, token):
            return  # a retried invocation: the pending key set exists already
        current = parse_key_set(_value(client, secret_id, VersionStage=CURRENT))
        pending = key_set_json(rotated_key_set(current, new_key()))
        client.put_secret_value(
            SecretId=secret_id, ClientRequestToken=token, SecretString=pending, VersionStages=[PENDING]
        )
    elif step == "setSecret":
        return  # nothing outside the secret holds the key
    elif step == "testSecret":
        parse_key_set(_value(client, secret_id, VersionId=token, VersionStage=PENDING))
    elif step == "finishSecret":
        current_version = next((v for v, s in stages.items() if CURRENT in s), None)
        client.update_secret_version_stage(
            SecretId=secret_id, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=current_version
        )
    else:
        raise ValueError(f"unknown rotation step {step!r}")


def _has_version(client: Any, secret_id: str, token: str) -> bool:
    try:
        client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True
