"""The signed-in user's session management over the real handlers: list, revoke one,
sign out everywhere, change the password; and the ADMIN route."""

from __future__ import annotations

import time

import pytest

from functions.admin_api import app as admin_api
from functions.password import app as password
from functions.sessions import app as sessions_fn
from sessiongate import sessions
from tests.helpers import FakeContext, load_event, proxy_event, response_json
from tests.integration.conftest import DEMO_PASSWORD, open_sessions, raw_session


def context(issued, role: str = "USER") -> dict:
    return {
        "principalId": issued.user.id,
        "userId": issued.user.id,
        "sessionId": issued.session_id,
        "role": role,
        "email": issued.user.email,
    }


def call(
    module,
    name: str,
    issued,
    *,
    role: str = "USER",
    body=None,
    path: str | None = None,
    path_parameters: dict | None = None,
    method: str | None = None,
) -> dict:
    event = proxy_event(name, authorizer=context(issued, role), body=body)
    if path is not None:
        event.update(path=path, pathParameters=path_parameters)
    if method is not None:
        event["httpMethod"] = method
    return module.lambda_handler(event, FakeContext())


def test_list_shows_live_sessions_and_marks_the_current_one(user, issued, tables, settings, keys, passwords):
    others = open_sessions(settings, keys, passwords, user, 2, agent="curl/8")
    tables.client.update_item(  # an expired row TTL has not removed yet
        TableName=tables.sessions,
        Key={"id": {"S": others[1].session_id}},
        UpdateExpression="SET expires = :p",
        ExpressionAttributeValues={":p": {"N": str(int(time.time()) - 1)}},
    )
    listed = response_json(call(sessions_fn, "sessions_list", issued))["sessions"]
    by_id = {s["id"]: s for s in listed}
    assert set(by_id) == {issued.session_id, others[0].session_id}  # the expired one is left out
    assert by_id[issued.session_id]["current"] is True and by_id[others[0].session_id]["current"] is False
    other = by_id[others[0].session_id]
    assert set(other) == {"id", "createdAt", "rotatedAt", "expires", "userAgent", "sourceIp", "current"}
    assert other["userAgent"] == "curl/8" and other["expires"].endswith("Z")


def revoke(issued, session_id: str) -> dict:
    event = load_event("sessions_list")
    event.update(
        httpMethod="DELETE",
        resource="/auth/sessions/{session_id}",
        path=f"/auth/sessions/{session_id}",
        pathParameters={"session_id": session_id},
    )
    event["requestContext"]["authorizer"] = context(issued)
    return sessions_fn.lambda_handler(event, FakeContext())


def test_revoke_one_of_mine_but_not_another_users(user, issued, tables, settings, keys, passwords):
    mine = open_sessions(settings, keys, passwords, user, 1)[0]
    bob = sessions.create_user(
        passwords, email="bob@example.com", password=DEMO_PASSWORD, name=None, role="USER", now=int(time.time())
    )
    theirs = sessions.sign_in(
        settings,
        keys,
        passwords,
        email=bob.email,
        password=DEMO_PASSWORD,
        user_agent=None,
        source_ip=None,
        now=int(time.time()),
    )
    assert revoke(issued, mine.session_id)["statusCode"] == 204
    assert raw_session(tables, mine.session_id) is None
    # Another user's session answers exactly like one that does not exist, and survives
    foreign, missing = revoke(issued, theirs.session_id), revoke(issued, "no-such-session-id-at-all")
    assert foreign["statusCode"] == missing["statusCode"] == 404
    assert (
        response_json(foreign)
        == response_json(missing)
        == {"error": "session_not_found", "message": "No such session."}
    )
    assert raw_session(tables, theirs.session_id) is not None


@pytest.mark.parametrize("keep", [True, False])
def test_sign_out_all_with_or_without_the_current(keep, user, issued, tables, settings, keys, passwords):
    open_sessions(settings, keys, passwords, user, 3)
    response = call(sessions_fn, "sign_out_all", issued, body={"keepCurrent": keep})
    assert response_json(response) == {"sessionsRevoked": 3 if keep else 4}
    remaining = {i["id"]["S"] for i in tables.client.scan(TableName=tables.sessions)["Items"]}
    assert remaining == ({issued.session_id} if keep else set())


def test_sign_out_all_with_an_empty_object_revokes_everything_and_other_bodies_are_400(user, issued, tables):
    assert response_json(call(sessions_fn, "sign_out_all", issued, body={})) == {"sessionsRevoked": 1}
    for raw in (None, "[null, null]", '{"keepCurrent": "yes"}'):
        event = proxy_event("sign_out_all", authorizer=context(issued), raw_body=raw)
        if raw is None:
            event["body"] = None
        assert sessions_fn.lambda_handler(event, FakeContext())["statusCode"] == 400, raw


def test_password_change_rechecks_rehashes_and_revokes_the_others(user, issued, tables, settings, keys, passwords):
    others = open_sessions(settings, keys, passwords, user, 2)
    body = {"currentPassword": DEMO_PASSWORD, "newPassword": "a brand new passphrase"}
    response = call(password, "password", issued, body=body)
    assert response["statusCode"] == 200 and response_json(response) == {"sessionsRevoked": 2}
    assert all(raw_session(tables, o.session_id) is None for o in others)
    assert raw_session(tables, issued.session_id) is not None
    # The new password signs in, the old one no longer does
    sessions.sign_in(
        settings,
        keys,
        passwords,
        email=user.email,
        password="a brand new passphrase",
        user_agent=None,
        source_ip=None,
        now=int(time.time()),
    )
    with pytest.raises(sessions.InvalidCredentials):
        sessions.sign_in(
            settings,
            keys,
            passwords,
            email=user.email,
            password=DEMO_PASSWORD,
            user_agent=None,
            source_ip=None,
            now=int(time.time()),
        )


def test_a_wrong_current_password_is_401_and_counts_toward_lockout(user, issued, tables, settings):
    body = {"currentPassword": "not my password", "newPassword": "a brand new passphrase"}
    for _ in range(settings.max_failed_sign_ins):
        assert call(password, "password", issued, body=body)["statusCode"] == 401
    locked = call(password, "password", issued, body={**body, "currentPassword": DEMO_PASSWORD})
    assert locked["statusCode"] == 429
    assert raw_session(tables, issued.session_id) is not None


def test_a_weak_new_password_is_400(user, issued):
    response = call(password, "password", issued, body={"currentPassword": DEMO_PASSWORD, "newPassword": "short"})
    assert response["statusCode"] == 400


def test_admin_route_lists_any_users_sessions_for_admins_only(user, issued, tables, passwords):
    admin = sessions.create_user(
        passwords, email="root@example.com", password=DEMO_PASSWORD, name=None, role="ADMIN", now=int(time.time())
    )
    event = load_event("admin_user_sessions")
    event["pathParameters"] = {"user_id": user.id}
    event["path"] = f"/admin/users/{user.id}/sessions"
    event["requestContext"]["authorizer"] = {**context(issued, "ADMIN"), "userId": admin.id}
    listed = response_json(admin_api.lambda_handler(event, FakeContext()))["sessions"]
    assert [s["id"] for s in listed] == [issued.session_id]
    # A USER calling it gets 403 even if a policy let the request through
    event["requestContext"]["authorizer"] = context(issued, "USER")
    denied = admin_api.lambda_handler(event, FakeContext())
    assert denied["statusCode"] == 403 and response_json(denied)["error"] == "forbidden"
    # An unknown user is 404
    event["requestContext"]["authorizer"] = {**context(issued, "ADMIN"), "userId": admin.id}
    event["pathParameters"] = {"user_id": "nobody"}
    event["path"] = "/admin/users/nobody/sessions"
    assert admin_api.lambda_handler(event, FakeContext())["statusCode"] == 404
