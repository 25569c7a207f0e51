"""The signed-in user's sessions: list them, revoke one, sign out everywhere."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.http import (
    NO_STORE,
    RevokedResponse,
    SessionsResponse,
    SignOutAllRequest,
    build_resolver,
    cleared_cookies,
    json_response,
    lambda_handler_for,
    principal_of,
    route_responses,
    session_list,
)

settings = load_settings()
app = build_resolver(settings)


@app.get(
    "/auth/sessions",
    operation_id="listSessions",
    summary="The caller's live sessions",
    responses=route_responses(
        200, SessionsResponse, "Live sessions, oldest first.", "invalid_token", "service_unavailable"
    ),
)
def list_sessions() -> Response[str]:
    user_id, session_id = principal_of(app)
    return json_response(200, session_list(sessions.list_sessions(user_id, now=int(time.time())), session_id))


@app.delete(
    "/auth/sessions/<session_id>",
    operation_id="revokeSession",
    summary="Revoke one of the caller's sessions",
    # An id with characters no session id has can miss the route pattern: plain not_found then.
    responses=route_responses(
        204, None, "Revoked.", "invalid_token", "session_not_found", "not_found", "service_unavailable"
    ),
)
def revoke_session(session_id: str) -> Response[None]:
    user_id, _ = principal_of(app)
    sessions.revoke_own_session(user_id=user_id, session_id=session_id)
    return Response(status_code=204, headers=NO_STORE)


@app.post(
    "/auth/sign-out-all",
    operation_id="signOutAll",
    summary="Revoke every session of the caller (or every other one)",
    responses=route_responses(
        200,
        RevokedResponse,
        "How many sessions were revoked; without keepCurrent the cookies are cleared too.",
        "invalid_request",
        "invalid_token",
        "service_unavailable",
    ),
)
def sign_out_all(request: Annotated[SignOutAllRequest, Body()]) -> Response[str]:
    user_id, session_id = principal_of(app)
    keep = session_id if request.keepCurrent else None
    revoked = sessions.sign_out_everywhere(user_id=user_id, keep_session_id=keep)
    # Without keepCurrent this browser is signed out too: its cookies go.
    return json_response(200, {"sessionsRevoked": revoked}, None if keep else cleared_cookies(app, settings))


lambda_handler = lambda_handler_for(app)
