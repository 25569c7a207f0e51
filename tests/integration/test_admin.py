"""The admin CLI (python -m sessiongate.admin) against moto: users, cascade deletion, sessions."""

from __future__ import annotations

import json
import time

import pytest

from sessiongate import admin, sessions
from sessiongate.errors import EmailTaken
from tests.integration.conftest import DEMO_PASSWORD, raw_session


def run(capsys, *argv: str) -> tuple[int, dict]:
    code = admin.main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out if code == 0 else captured.err)


def test_create_user_then_duplicate_email_in_any_case_is_refused(tables, capsys):
    code, out = run(
        capsys,
        "create-user",
        "--email",
        "Grace@Example.com",
        "--password",
        DEMO_PASSWORD,
        "--name",
        "Grace",
        "--role",
        "ADMIN",
    )
    assert code == 0 and out["user"]["email"] == "grace@example.com" and out["user"]["role"] == "ADMIN"
    code, out = run(capsys, "create-user", "--email", "GRACE@example.COM", "--password", DEMO_PASSWORD)
    assert code == 3 and out["error"] == "email_taken"


def test_concurrent_creates_of_one_email_make_one_user(tables, passwords):
    from concurrent.futures import ThreadPoolExecutor

    def create(i: int) -> str:
        try:
            sessions.create_user(
                passwords,
                email="race@example.com",
                password=DEMO_PASSWORD,
                name=str(i),
                role="USER",
                now=int(time.time()),
            )
            return "created"
        except EmailTaken:
            return "taken"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(create, range(8), timeout=60))
    assert outcomes.count("created") == 1
    users = [i for i in tables.client.scan(TableName=tables.users)["Items"] if "passwordHash" in i]
    assert len(users) == 1


def test_short_password_is_refused(tables, capsys):
    code, out = run(capsys, "create-user", "--email", "x@example.com", "--password", "short")
    assert code == 2 and out["error"] == "invalid_request"


def test_delete_user_cascades_to_every_session(user, tables, settings, keys, passwords, capsys):
    issued = [
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
        for _ in range(30)
    ]
    code, out = run(capsys, "delete-user", "ada@example.com")
    assert code == 0 and out == {"deleted": True, "sessionsRevoked": 30}
    assert all(raw_session(tables, i.session_id) is None for i in issued)
    assert tables.client.scan(TableName=tables.users)["Count"] == 0
    # And the email is free again
    assert run(capsys, "create-user", "--email", "ada@example.com", "--password", DEMO_PASSWORD)[0] == 0


def test_list_and_revoke_sessions(user, tables, settings, keys, passwords, capsys):
    first = sessions.sign_in(
        settings,
        keys,
        passwords,
        email=user.email,
        password=DEMO_PASSWORD,
        user_agent="curl/8",
        source_ip="127.0.0.1",
        now=int(time.time()),
    )
    code, out = run(capsys, "list-sessions", user.id)
    assert code == 0 and [s["id"] for s in out["sessions"]] == [first.session_id]
    assert out["sessions"][0]["userAgent"] == "curl/8"
    assert run(capsys, "revoke-session", first.session_id)[0] == 0
    assert run(capsys, "list-sessions", "ada@example.com")[1] == {"sessions": []}
    assert run(capsys, "revoke-session", first.session_id)[0] == 4


@pytest.mark.parametrize("argv", [["delete-user", "nobody@example.com"], ["list-sessions", "missing-id"]])
def test_unknown_user_exits_4(tables, capsys, argv):
    assert run(capsys, *argv)[0] == 4
