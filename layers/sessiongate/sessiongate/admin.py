"""Admin CLI: python -m sessiongate.admin [--json] [--stack NAME] COMMAND ...

Works against whatever DynamoDB the environment names (AWS_ENDPOINT_URL_DYNAMODB for the
local stack or DynamoDB Local; nothing for AWS) and the tables in SESSIONS_TABLE and
USERS_TABLE, or those of a deployed stack with --stack. Exit codes: 0 done, 2 bad
arguments, 3 conflict, 4 not found, 5 DynamoDB unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from sessiongate import config  # light: no table names bound at import (see run)

ROLES = sorted(config.ROLES)
STACK_OUTPUTS = {"SessionsTableName": "SESSIONS_TABLE", "UsersTableName": "USERS_TABLE"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sessiongate.admin", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--stack", help="use the tables of this deployed CloudFormation stack")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="add a user (password from --password or SESSIONGATE_PASSWORD)")
    create.add_argument("--email", required=True)
    create.add_argument("--password", default=os.environ.get("SESSIONGATE_PASSWORD"))
    create.add_argument("--name")
    create.add_argument("--role", default="USER", choices=ROLES)
    commands.add_parser("list-users", help="list every user")
    for name, text in (
        ("delete-user", "delete a user and all of their sessions"),
        ("disable-user", "disable a user and revoke all of their sessions"),
        ("enable-user", "allow a disabled user to sign in again"),
        ("revoke-all", "revoke every session of a user"),
        ("list-sessions", "list a user's live sessions"),
    ):
        commands.add_parser(name, help=text).add_argument("user", help="user id or email")
    role = commands.add_parser("set-role", help="change a user's role and revoke their sessions")
    role.add_argument("user", help="user id or email")
    role.add_argument("role", choices=ROLES)
    commands.add_parser("revoke-session", help="revoke one session by id").add_argument("session_id")
    return parser


def _use_stack(stack: str) -> None:
    """Point the models at a deployed stack's tables (before they are imported)."""
    import boto3

    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    for output, variable in STACK_OUTPUTS.items():
        if output not in values:
            raise SystemExit(f"stack {stack} has no output {output}")
        os.environ[variable] = values[output]


def run(args: argparse.Namespace) -> Any:
    # Imported only now: the models bind their table names at import, and --stack sets them.
    from sessiongate import sessions
    from sessiongate.errors import InvalidRequest

    now = int(time.time())
    if args.command == "create-user":
        if not args.password:
            raise InvalidRequest("give --password or set SESSIONGATE_PASSWORD")
        from sessiongate.passwords import Passwords  # argon2 only where a hash is made

        user = sessions.create_user(
            Passwords(), email=args.email, password=args.password, name=args.name, role=args.role, now=now
        )
        return {"user": user.asdict()}
    if args.command == "list-users":
        return {"users": [{**sessions.UserView.of(u).asdict(), "disabled": u.disabled} for u in sessions.list_users()]}
    if args.command == "delete-user":
        return {"deleted": True, "sessionsRevoked": sessions.delete_user(args.user)}
    if args.command in ("disable-user", "enable-user"):
        user, revoked = sessions.set_disabled(args.user, args.command == "disable-user")
        return {"user": user.asdict(), "disabled": args.command == "disable-user", "sessionsRevoked": revoked}
    if args.command == "set-role":
        user, revoked = sessions.set_role(args.user, args.role)
        return {"user": user.asdict(), "sessionsRevoked": revoked}
    if args.command == "revoke-all":
        return {"sessionsRevoked": sessions.revoke_all_sessions(sessions.find_user(args.user).id)}
    if args.command == "list-sessions":
        owner = sessions.find_user(args.user)
        return {
            "sessions": [
                {
                    "id": s.id,
                    "createdAt": sessions.iso8601(int(s.created_at)),
                    "rotatedAt": sessions.iso8601(int(s.rotated_at)),
                    "expires": sessions.iso8601(s.expires_epoch),
                    "userAgent": s.user_agent,
                    "sourceIp": s.source_ip,
                }
                for s in sessions.list_sessions(owner.id, now=now)
            ]
        }
    sessions.revoke_session(args.session_id)
    return {"revoked": args.session_id}


def as_text(result: dict[str, Any]) -> str:
    """One line per record, `key=value` pairs: readable, and easy to grep."""
    lines = []
    for key, value in result.items():
        records = value if isinstance(value, list) else [value]
        for record in records:
            if isinstance(record, dict):
                lines.append(f"{key}: " + " ".join(f"{k}={v}" for k, v in record.items()))
            else:
                lines.append(f"{key}: {record}")
        if isinstance(value, list) and not value:
            lines.append(f"{key}: none")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.stack:
        _use_stack(args.stack)
    from sessiongate.errors import EmailTaken, InvalidRequest, ServiceUnavailable, SessionNotFound, UserNotFound

    exit_codes: dict[type[Exception], tuple[int, str]] = {
        InvalidRequest: (2, "invalid_request"),
        EmailTaken: (3, "email_taken"),
        UserNotFound: (4, "user_not_found"),
        SessionNotFound: (4, "session_not_found"),
        ServiceUnavailable: (5, "service_unavailable"),
    }
    try:
        result = run(args)
    except tuple(exit_codes) as exc:
        code, name = exit_codes[type(exc)]
        error = {"error": name, "message": str(exc)}
        print(json.dumps(error) if args.json else f"error: {name}: {exc}", file=sys.stderr)
        return code
    print(json.dumps(result, indent=2) if args.json else as_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
