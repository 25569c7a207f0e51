"""Admin CLI: python -m sessiongate.admin create-user|delete-user|list-sessions|revoke-session

Works against whatever DynamoDB the environment names (AWS_ENDPOINT_URL_DYNAMODB for the
local stack or DynamoDB Local; nothing for AWS) and the tables in SESSIONS_TABLE and
USERS_TABLE. Prints JSON. Exit codes: 0 done, 2 bad arguments, 3 conflict, 4 not found,
5 DynamoDB unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from sessiongate import sessions
from sessiongate.errors import EmailTaken, InvalidRequest, ServiceUnavailable, SessionNotFound, UserNotFound
from sessiongate.models import UserRole

EXIT_CODES: dict[type[Exception], tuple[int, str]] = {
    InvalidRequest: (2, "invalid_request"),
    EmailTaken: (3, "email_taken"),
    UserNotFound: (4, "user_not_found"),
    SessionNotFound: (4, "session_not_found"),
    ServiceUnavailable: (5, "service_unavailable"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sessiongate.admin", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="add a user (password from --password or SESSIONGATE_PASSWORD)")
    create.add_argument("--email", required=True)
    create.add_argument("--password", default=os.environ.get("SESSIONGATE_PASSWORD"))
    create.add_argument("--name")
    create.add_argument("--role", default=UserRole.USER.value, choices=list(UserRole.__members__))
    delete = commands.add_parser("delete-user", help="delete a user and all of their sessions")
    delete.add_argument("user", help="user id or email")
    listing = commands.add_parser("list-sessions", help="list a user's live sessions")
    listing.add_argument("user", help="user id or email")
    revoke = commands.add_parser("revoke-session", help="revoke one session by id")
    revoke.add_argument("session_id")
    return parser


def run(argv: Sequence[str]) -> object:
    args = _parser().parse_args(argv)
    now = int(time.time())
    if args.command == "create-user":
        if not args.password:
            raise InvalidRequest("give --password or set SESSIONGATE_PASSWORD")
        from sessiongate.passwords import Passwords  # argon2 only where a hash is made

        user = sessions.create_user(
            Passwords(), email=args.email, password=args.password, name=args.name, role=args.role, now=now
        )
        return {"user": user.asdict()}
    if args.command == "delete-user":
        return {"deleted": True, "sessionsRevoked": sessions.delete_user(args.user)}
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        print(json.dumps(run(sys.argv[1:] if argv is None else argv), indent=2))
    except tuple(EXIT_CODES) as exc:
        code, name = EXIT_CODES[type(exc)]
        print(json.dumps({"error": name, "message": str(exc)}), file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
