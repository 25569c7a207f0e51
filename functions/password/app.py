"""POST /auth/password: change the password; every other session is revoked."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.http import (
    PasswordChangeRequest,
    RevokedResponse,
    build_resolver,
    json_response,
    lambda_handler_for,
    principal_of,
    route_responses,
)
from sessiongate.passwords import Passwords

settings = load_settings()
passwords = Passwords()
app = build_resolver(settings)


@app.post(
    "/auth/password",
    operation_id="changePassword",
    summary="Change the caller's password and revoke their other sessions",
    responses=route_responses(
        200,
        RevokedResponse,
        "Changed; how many other sessions were revoked.",
        "invalid_request",
        "invalid_credentials",
        "invalid_token",
        "too_many_attempts",
        "service_unavailable",
    ),
)
def change_password(request: Annotated[PasswordChangeRequest, Body()]) -> Response[str]:
    user_id, session_id = principal_of(app)
    revoked = sessions.change_password(
        settings,
        passwords,
        user_id=user_id,
        session_id=session_id,
        current_password=request.currentPassword,
        new_password=request.newPassword,
        now=int(time.time()),
    )
    return json_response(200, {"sessionsRevoked": revoked})


lambda_handler = lambda_handler_for(app)
