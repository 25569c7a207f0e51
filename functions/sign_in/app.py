"""POST /auth/sign-in: email and password in, a new session's token pair out."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.http import (
    CookieTokenResponse,
    SignInRequest,
    TokenResponse,
    build_resolver,
    in_cookie_mode,
    lambda_handler_for,
    route_responses,
    session_cookies,
    token_response,
)
from sessiongate.keys import KeyProvider
from sessiongate.passwords import Passwords

settings = load_settings()
keys = KeyProvider(settings)
passwords = Passwords()
app = build_resolver(settings)


@app.post(
    "/auth/sign-in",
    operation_id="signIn",
    summary="Sign in with email and password",
    responses=route_responses(
        200,
        TokenResponse | CookieTokenResponse,
        "A new session's token pair; in cookie mode (X-Session-Mode: cookie) the refresh token is "
        "set as the sg_refresh cookie instead (and the access token as sg_access with ACCESS_TOKEN_COOKIE).",
        "invalid_request",
        "invalid_credentials",
        "too_many_attempts",
        "service_unavailable",
    ),
)
def sign_in(request: Annotated[SignInRequest, Body()]) -> Response[str]:
    event = app.current_event
    now = int(time.time())
    issued = sessions.sign_in(
        settings,
        keys.current(),
        passwords,
        email=request.email,
        password=request.password,
        user_agent=event.headers.get("user-agent"),
        source_ip=event.request_context.identity.source_ip,
        now=now,
    )
    return token_response(issued, session_cookies(app, settings, issued, now) if in_cookie_mode(app) else None)


lambda_handler = lambda_handler_for(app)
