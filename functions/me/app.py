"""GET /me: the signed-in user and their session (the seed's getCurrentUser)."""

import time

from aws_lambda_powertools.event_handler import Response

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.http import (
    MeResponse,
    build_resolver,
    json_response,
    lambda_handler_for,
    principal_of,
    route_responses,
)

settings = load_settings()
app = build_resolver(settings)


@app.get(
    "/me",
    operation_id="getMe",
    summary="The signed-in user and their session",
    responses=route_responses(
        200, MeResponse, "The caller's user and session.", "invalid_token", "service_unavailable"
    ),
)
def me() -> Response[str]:
    user_id, session_id = principal_of(app)
    user, expires = sessions.current_user(user_id=user_id, session_id=session_id, now=int(time.time()))
    return json_response(
        200, {"user": user.asdict(), "session": {"id": session_id, "expires": sessions.iso8601(expires)}}
    )


lambda_handler = lambda_handler_for(app)
