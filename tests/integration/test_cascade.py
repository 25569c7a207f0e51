"""Cascade deletion at any size: the admin path and the users-table stream consumer."""

from __future__ import annotations

import time

import boto3
import pytest

from functions.authorizer import app as authorizer
from functions.user_deleted import app as user_deleted
from sessiongate import models, sessions
from tests.helpers import FakeContext, load_event, token_event
from tests.integration.conftest import DEMO_PASSWORD

MANY = 3000


def seed_sessions(tables, user_id: str, count: int) -> list[str]:
    """Write `count` live sessions of one user fast (raw BatchWriteItem, 25 at a time)."""
    now = int(time.time())
    ids = [f"bulk-{user_id[:8]}-{i:05d}-session" for i in range(count)]
    client = boto3.client("dynamodb", endpoint_url=tables.client.meta.endpoint_url)
    for start in range(0, count, 25):
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "id": {"S": sid},
                        "userId": {"S": user_id},
                        "sessionToken": {"S": "d"},
                        "generation": {"N": "0"},
                        "expires": {"N": str(now + 3600)},
                        "absoluteExpires": {"N": str(now + 7200)},
                        "createdAt": {"N": str(now)},
                        "rotatedAt": {"N": str(now)},
                        "expiryBucket": {"S": models.expiry_bucket(sid, now + 3600)},
                        "role": {"S": "USER"},
                        "email": {"S": "ada@example.com"},
                    }
                }
            }
            for sid in ids[start : start + 25]
        ]
        client.batch_write_item(RequestItems={tables.sessions: requests})
    return ids


def count_sessions(tables) -> int:
    paginator = tables.client.get_paginator("scan")
    return sum(page["Count"] for page in paginator.paginate(TableName=tables.sessions, Select="COUNT"))


def test_deleting_a_user_with_3000_sessions_deletes_all_and_the_authorizer_refuses_at_once(user, issued, tables):
    seed_sessions(tables, user.id, MANY - 1)
    assert count_sessions(tables) == MANY
    assert sessions.delete_user(user.email) == MANY
    assert count_sessions(tables) == 0
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.lambda_handler(token_event(f"Bearer {issued.access_token}"), FakeContext())


def stream_event(*records: tuple[str, str]) -> dict:
    template = load_event("users_stream")["Records"][0]
    event = {"Records": []}
    for number, (name, key) in enumerate(records, start=1):
        record = {**template, "eventName": name, "eventID": f"{number:032x}"}
        record["dynamodb"] = {**template["dynamodb"], "Keys": {"id": {"S": key}}, "SequenceNumber": f"{number:030d}"}
        event["Records"].append(record)
    return event


def test_stream_consumer_revokes_sessions_of_users_removed_elsewhere(user, issued, tables, passwords):
    # Given a user deleted outside the admin path (sessions left behind), and another user
    other = sessions.create_user(
        passwords, email="bob@example.com", password=DEMO_PASSWORD, name=None, role="USER", now=int(time.time())
    )
    seed_sessions(tables, user.id, 40)
    kept = seed_sessions(tables, other.id, 3)
    tables.client.delete_item(TableName=tables.users, Key={"id": {"S": user.id}})
    # When the stream delivers REMOVE of the user, REMOVE of a claim and a MODIFY of the other user
    response = user_deleted.lambda_handler(
        stream_event(("REMOVE", user.id), ("REMOVE", "email#ada@example.com"), ("MODIFY", other.id)), FakeContext()
    )
    # Then every session of the removed user is gone, the other user's stay, no record failed
    assert response == {"batchItemFailures": []}
    assert count_sessions(tables) == len(kept)
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.lambda_handler(token_event(f"Bearer {issued.access_token}"), FakeContext())


def test_stream_consumer_reports_only_the_failed_record(user, tables, monkeypatch):
    real = sessions.revoke_all_sessions

    def failing_for_one(user_id: str) -> int:
        if user_id == "broken-user":
            raise sessions.ServiceUnavailable()
        return real(user_id)

    monkeypatch.setattr(sessions, "revoke_all_sessions", failing_for_one)
    event = stream_event(("REMOVE", user.id), ("REMOVE", "broken-user"), ("REMOVE", "third-user"))
    response = user_deleted.lambda_handler(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]}]}


def test_the_sample_event_parses(tables):
    # events/users_stream.json feeds `sam local invoke UserDeletedFunction -e`; nothing to revoke there
    assert user_deleted.lambda_handler(load_event("users_stream"), FakeContext()) == {"batchItemFailures": []}
