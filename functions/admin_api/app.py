"""GET /admin/users/{id}/sessions: any user's live sessions, for ADMINs only."""

import time

from aws_lambda_powertools.event_handler import Response

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.errors import Forbidden
from sessiongate.http import (
    SessionsResponse,
    build_resolver,
    json_response,
    lambda_handler_for,
    principal_of,
    role_of,
    route_responses,
    session_list,
)
from sessiongate.models import UserRole

settings = load_settings()
app = build_resolver(settings)


@app.get(
    "/admin/users/<user_id>/sessions",
    operation_id="adminListUserSessions",
    summary="A user's live sessions (ADMIN)",
    responses=route_responses(
        200,
        SessionsResponse,
        "The user's live sessions.",
        "invalid_token",
        "forbidden",
        "user_not_found",
        "service_unavailable",
    ),
)
def user_sessions(user_id: str) -> Response[str]:
    _, caller_session = principal_of(app)
    # The authorizer's policy already denies this route to other roles; checked again here.
    if role_of(app) != UserRole.ADMIN:
        raise Forbidden()
    owner = sessions.find_user(user_id)
    return json_response(200, session_list(sessions.list_sessions(owner.id, now=int(time.time())), caller_session))


lambda_handler = lambda_handler_for(app)
