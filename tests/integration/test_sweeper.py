"""The sweeper on moto: deletes expired sessions only, through the expiry index, no scan."""

from __future__ import annotations

import secrets
import time

import pytest

from functions.sweeper import app as sweeper
from sessiongate import models, sessions
from sessiongate.errors import ServiceUnavailable
from sessiongate.models import Session
from tests.helpers import FakeContext, load_event

pytestmark = pytest.mark.usefixtures("expired_rows_stay")  # the tests count expired rows: no TTL deleting them


def make_session(expires: int) -> str:
    session_id = secrets.token_urlsafe(32)
    now = int(time.time())
    Session(
        session_id,
        user_id="u1",
        session_token="digest",
        generation=0,
        expires=models.utc(expires),
        absolute_expires=expires + 3600,
        created_at=now,
        rotated_at=now,
        expiry_bucket=models.expiry_bucket(session_id, expires),
        role="USER",
        email="a@example.com",
    ).save()
    return session_id


@pytest.fixture
def dynamodb_calls():
    calls: list[str] = []
    client = Session._get_connection().connection.client
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    yield calls
    client.meta.events.unregister("before-call.dynamodb")


def test_sweeper_deletes_expired_rows_only_despite_a_failing_batch(tables, monkeypatch, dynamodb_calls):
    # C11: 60 expired + 5 live, small pages, and deletes failing once for some rows
    now = int(time.time())
    expired = [make_session(now - 1 - i * 3000) for i in range(60)]
    live = [make_session(now + 3600) for _ in range(5)]
    flaky = set(expired[:7])
    real_delete = models.delete_if_expired

    def delete_failing_once(session_id: str, at: int) -> bool:
        if session_id in flaky:
            flaky.discard(session_id)
            raise ServiceUnavailable()
        return real_delete(session_id, at)

    monkeypatch.setattr(models, "delete_if_expired", delete_failing_once)
    dynamodb_calls.clear()
    report = sessions.sweep(now=now, time_left_ms=lambda: 300_000, page_size=3, retry_delays=(0.0, 0.0))
    assert report.deleted == 60 and report.failed == 0 and report.complete
    remaining = {item["id"]["S"] for item in tables.client.scan(TableName=tables.sessions)["Items"]}
    assert remaining == set(live)
    assert "Scan" not in dynamodb_calls and "BatchWriteItem" not in dynamodb_calls
    assert set(dynamodb_calls) == {"Query", "DeleteItem"}


def test_session_extended_after_the_index_was_read_survives(tables):
    now = int(time.time())
    session_id = make_session(now - 10)
    # Given the sweeper read the id, and then a refresh extended the session
    ids = list(models.expired_session_ids(models.expiry_bucket(session_id, now - 10), now, 10))
    assert ids == [session_id]
    Session(session_id).update(actions=[Session.expires.set(models.utc(now + 3600))])
    # When the conditional delete runs, then the session stays
    assert models.delete_if_expired(session_id, now) is False
    assert models.get_session(session_id) is not None


def test_sweeper_stops_with_time_left_and_resumes(tables):
    now = int(time.time())
    for _ in range(5):
        make_session(now - 5)
    report = sessions.sweep(now=now, time_left_ms=lambda: 1_000, reserve_ms=10_000)
    assert report.complete is False and report.deleted == 0
    assert sessions.sweep(now=now, time_left_ms=lambda: 300_000).deleted == 5


def test_persistent_failures_are_left_for_the_next_run(tables, monkeypatch):
    now = int(time.time())
    make_session(now - 5)

    def always_failing(session_id: str, at: int) -> bool:
        raise ServiceUnavailable()

    monkeypatch.setattr(models, "delete_if_expired", always_failing)
    report = sessions.sweep(now=now, time_left_ms=lambda: 300_000, retry_delays=(0.0,))
    assert report.failed == 1 and report.complete is False
    assert tables.client.scan(TableName=tables.sessions)["Count"] == 1


def test_handler_reports_a_summary_and_metrics(tables, capsys):
    now = int(time.time())
    make_session(now - 5)
    make_session(now + 500)
    summary = sweeper.lambda_handler(load_event("scheduled"), FakeContext())
    assert summary["deleted"] == 1 and summary["complete"] is True
    out = capsys.readouterr().out
    assert '"SessionsSwept":[1.0]' in out.replace(" ", "")
    assert "SweepDurationMs" in out
