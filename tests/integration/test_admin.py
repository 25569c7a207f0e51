"""The admin CLI (python -m sessiongate.admin) against moto: users, cascade deletion, sessions."""

from __future__ import annotations

import json
import time

import pytest

from sessiongate import admin, sessions
from sessiongate.errors import EmailTaken
from tests.integration.conftest import DEMO_PASSWORD, open_sessions, raw_session


def run(capsys, *argv: str) -> tuple[int, dict]:
    code = admin.main(["--json", *argv])
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

    with ThreadPoolExecutor(max_workers=20) as pool:  # 20 at once, bounded in time
        outcomes = list(pool.map(create, range(20), timeout=120))
    assert outcomes.count("created") == 1
    users = [i for i in tables.client.scan(TableName=tables.users)["Items"] if "passwordHash" in i]
    assert len(users) == 1


def test_short_password_is_refused(tables, capsys):
    code, out = run(capsys, "create-user", "--email", "x@example.com", "--password", "short")
    assert code == 2 and out["error"] == "invalid_request"


def test_delete_user_cascades_to_every_session(user, tables, settings, keys, passwords, capsys):
    issued = open_sessions(settings, keys, passwords, user, 30)
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


def test_set_role_revokes_sessions_that_carry_the_old_role(user, tables, settings, keys, passwords, capsys):
    issued = open_sessions(settings, keys, passwords, user, 3)
    code, out = run(capsys, "set-role", "ada@example.com", "ADMIN")
    assert code == 0 and out == {"user": {**user.asdict(), "role": "ADMIN"}, "sessionsRevoked": 3}
    assert all(raw_session(tables, i.session_id) is None for i in issued)
    fresh = open_sessions(settings, keys, passwords, user, 1)[0]
    assert fresh.user.role == "ADMIN"


def test_disable_user_revokes_everything_and_blocks_sign_in(user, tables, settings, keys, passwords, capsys):
    from sessiongate.errors import InvalidCredentials

    issued = open_sessions(settings, keys, passwords, user, 2)
    code, out = run(capsys, "disable-user", user.id)
    assert code == 0 and out["disabled"] is True and out["sessionsRevoked"] == 2
    assert all(raw_session(tables, i.session_id) is None for i in issued)
    with pytest.raises(InvalidCredentials):
        open_sessions(settings, keys, passwords, user, 1)
    assert run(capsys, "enable-user", user.id)[1]["disabled"] is False
    assert open_sessions(settings, keys, passwords, user, 1)


def test_revoke_all_and_list_users(user, tables, settings, keys, passwords, capsys):
    open_sessions(settings, keys, passwords, user, 4)
    assert run(capsys, "revoke-all", "ada@example.com")[1] == {"sessionsRevoked": 4}
    assert run(capsys, "list-sessions", user.id)[1] == {"sessions": []}
    code, out = run(capsys, "list-users")
    assert code == 0 and out == {"users": [{**user.asdict(), "disabled": False}]}


def test_text_output_by_default(user, tables, capsys):
    assert admin.main(["list-users"]) == 0
    assert (
        capsys.readouterr().out.strip()
        == f"users: id={user.id} email=ada@example.com name=Ada role=USER disabled=False"
    )
    assert admin.main(["revoke-session", "no-such-session"]) == 4
    assert capsys.readouterr().err.startswith("error: session_not_found")


def test_stack_option_reads_table_names_from_the_stack_outputs(user, tables, moto_endpoint):
    # Given a deployed stack whose outputs name the tables, and an environment naming other tables
    import os
    import subprocess
    import sys

    import boto3

    from local.template import repo_root

    outputs = {"SessionsTableName": tables.sessions, "UsersTableName": tables.users}
    template = {
        "Resources": {"Nothing": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", endpoint_url=moto_endpoint).create_stack(
        StackName="sessiongate-test", TemplateBody=json.dumps(template)
    )
    root = repo_root()
    env = {
        **os.environ,
        "SESSIONS_TABLE": "wrong",
        "USERS_TABLE": "wrong",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "PYTHONPATH": str(root / "layers" / "sessiongate"),
    }
    # When the CLI runs with --stack, then it finds the user in the stack's tables
    done = subprocess.run(
        [sys.executable, "-m", "sessiongate.admin", "--json", "--stack", "sessiongate-test", "list-users"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [u["email"] for u in json.loads(done.stdout)["users"]] == ["ada@example.com"]


@pytest.mark.parametrize("argv", [["delete-user", "x" * 3000], ["list-sessions", ""], ["revoke-session", "s" * 2049]])
def test_impossible_keys_are_not_found_not_an_outage(tables, capsys, argv):
    # DynamoDB refuses such keys (ValidationException); they name nothing: 4, never 5
    assert run(capsys, *argv)[0] == 4


def test_an_oversized_email_is_a_bad_argument(tables, capsys):
    assert run(capsys, "delete-user", "a" * 2100 + "@example.com")[0] == 2
