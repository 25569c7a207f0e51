"""Refresh-token rotation on moto: atomic, grace for races, reuse revokes, never recreates a row."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.rotate import app as rotate
from sessiongate import sessions, tokens
from sessiongate.errors import InvalidToken, RefreshConflict
from tests.helpers import FakeContext, proxy_event, response_json
from tests.integration.conftest import raw_session, set_session_attr


def refresh(token: str) -> dict:
    return rotate.lambda_handler(proxy_event("refresh", body={"refreshToken": token}), FakeContext())


def test_rotation_issues_the_next_generation(issued, tables):
    pair = response_json(refresh(issued.refresh_token))
    row = raw_session(tables, issued.session_id)
    assert row["generation"]["N"] == "1"
    assert row["sessionToken"]["S"] == tokens.token_digest(pair["refreshToken"])
    assert response_json(refresh(pair["refreshToken"]))["session"]["id"] == issued.session_id


def test_refresh_slides_expires_but_never_past_absolute(issued, tables, settings, keys):
    # Given a session whose absolute expiry is close
    now = int(time.time())
    set_session_attr(tables, issued.session_id, "absoluteExpires", now + 120)
    set_session_attr(tables, issued.session_id, "expires", now + 60)
    # When refreshed, then expires moves forward, capped at absoluteExpires
    again = sessions.rotate(settings, keys, refresh_token=issued.refresh_token, now=now)
    assert again.session_expires == now + 120
    assert int(raw_session(tables, issued.session_id)["expires"]["N"]) == now + 120
    assert again.expires_in <= 120


def test_same_token_twice_within_grace_returns_the_same_successor(issued):
    # C09, sequential form: the loser of a race gets R1 too, and R1 keeps working
    first = response_json(refresh(issued.refresh_token))
    second = response_json(refresh(issued.refresh_token))
    assert second["refreshToken"] == first["refreshToken"]
    assert refresh(first["refreshToken"])["statusCode"] == 200


def test_concurrent_refreshes_mint_exactly_one_generation(issued, tables):
    # C09: 20 concurrent refreshes with R0, bounded in count and time
    start = threading.Barrier(20, timeout=30)

    def racer(_: int) -> dict:
        start.wait()
        return refresh(issued.refresh_token)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(racer, range(20), timeout=60))
    statuses = [r["statusCode"] for r in results]
    assert set(statuses) <= {200, 409}, statuses
    minted = {response_json(r)["refreshToken"] for r in results if r["statusCode"] == 200}
    assert len(minted) == 1
    assert raw_session(tables, issued.session_id)["generation"]["N"] == "1"
    assert refresh(minted.pop())["statusCode"] == 200


def test_superseded_token_after_grace_revokes_the_session(issued, tables, settings, keys):
    now = int(time.time())
    r1 = sessions.rotate(settings, keys, refresh_token=issued.refresh_token, now=now)
    # When R0 is replayed after the grace window, then 401 and the whole session is gone
    with pytest.raises(InvalidToken):
        sessions.rotate(settings, keys, refresh_token=issued.refresh_token, now=now + settings.reuse_grace + 1)
    assert raw_session(tables, issued.session_id) is None
    with pytest.raises(InvalidToken):
        sessions.rotate(settings, keys, refresh_token=r1.refresh_token, now=now + settings.reuse_grace + 2)


def test_older_generation_within_grace_also_revokes(issued, tables, settings, keys):
    now = int(time.time())
    r1 = sessions.rotate(settings, keys, refresh_token=issued.refresh_token, now=now)
    sessions.rotate(settings, keys, refresh_token=r1.refresh_token, now=now)
    with pytest.raises(InvalidToken):
        sessions.rotate(settings, keys, refresh_token=issued.refresh_token, now=now)  # generation 0 of 2
    assert raw_session(tables, issued.session_id) is None


def test_forged_token_revokes_nothing(issued, tables):
    session_id, generation, nonce, _tag = issued.refresh_token.split(".")[1:]
    forged = f"rt1.{session_id}.{generation}.{nonce}.{'A' * 43}"
    assert refresh(forged)["statusCode"] == 401
    assert raw_session(tables, issued.session_id) is not None
    assert refresh(issued.refresh_token)["statusCode"] == 200


def test_refresh_of_a_swept_session_is_401_and_creates_nothing(issued, tables):
    # C10: the row is gone; the conditional update must not recreate it
    tables.client.delete_item(TableName=tables.sessions, Key={"id": {"S": issued.session_id}})
    response = refresh(issued.refresh_token)
    assert response["statusCode"] == 401
    assert response_json(response)["error"] == "invalid_token"
    assert raw_session(tables, issued.session_id) is None
    assert tables.client.scan(TableName=tables.sessions)["Count"] == 0


def test_refresh_of_an_expired_row_is_401(issued, tables, expired_rows_stay):
    # C08
    set_session_attr(tables, issued.session_id, "expires", int(time.time()) - 1)
    assert refresh(issued.refresh_token)["statusCode"] == 401


def test_lost_race_with_a_different_key_is_a_retryable_conflict(issued, settings, keys):
    # A rotation minted by an instance with another signing key: the successor cannot be recomputed
    from sessiongate.keys import KeySet, SigningKey

    other = KeySet((SigningKey("k2", b"another-signing-key-that-is-32-bytes!!"), *keys.keys))
    now = int(time.time())
    sessions.rotate(settings, other, refresh_token=issued.refresh_token, now=now)
    with pytest.raises(RefreshConflict):
        sessions.rotate(settings, keys, refresh_token=issued.refresh_token, now=now)


@pytest.mark.parametrize("raw", ["{}", '{"refreshToken": 5}', '{"refreshToken": ""}', "nope"])
def test_bad_refresh_bodies_are_400(raw):
    response = rotate.lambda_handler(proxy_event("refresh", raw_body=raw), FakeContext())
    assert response["statusCode"] == 400
    assert response_json(response)["error"] == "invalid_request"


def test_concurrent_sign_out_and_refreshes_leave_no_live_session(issued, tables):
    # Given refreshes racing one sign-out of the same session (bounded: 11 threads, 60 s)
    start = threading.Barrier(11, timeout=30)

    def refresher(_: int) -> dict:
        start.wait()
        return refresh(issued.refresh_token)

    def signer_out() -> None:
        start.wait()
        sessions.sign_out(session_id=issued.session_id)

    with ThreadPoolExecutor(max_workers=11) as pool:
        out = pool.submit(signer_out)
        results = list(pool.map(refresher, range(10), timeout=60))
        out.result(timeout=60)
    # Then the row is gone and no token minted in the race refreshes anything
    assert raw_session(tables, issued.session_id) is None
    minted = {response_json(r)["refreshToken"] for r in results if r["statusCode"] == 200}
    assert {r["statusCode"] for r in results} <= {200, 401, 409}
    for token in minted | {issued.refresh_token}:
        assert refresh(token)["statusCode"] == 401
    assert tables.client.scan(TableName=tables.sessions)["Count"] == 0
