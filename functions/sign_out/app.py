"""POST /auth/sign-out: revoke the caller's session (behind the authorizer)."""

from aws_lambda_powertools.event_handler import Response

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.http import (
    NO_STORE,
    build_resolver,
    cleared_cookies,
    lambda_handler_for,
    principal_of,
    route_responses,
)
from sessiongate.observability import logger

settings = load_settings()
app = build_resolver(settings)


@app.post(
    "/auth/sign-out",
    operation_id="signOut",
    summary="Revoke the caller's session",
    responses=route_responses(
        204,
        None,
        "The session is revoked and its refresh token dead; both cookies are cleared (Max-Age=0).",
        "invalid_token",
        "service_unavailable",
    ),
)
def sign_out() -> Response[None]:
    user_id, session_id = principal_of(app)
    sessions.sign_out(session_id=session_id)
    logger.info("signed out", user_id=user_id, session_id=session_id)
    return Response(status_code=204, headers=NO_STORE, cookies=cleared_cookies(app, settings))


lambda_handler = lambda_handler_for(app)
