"""POST /auth/refresh: rotate a refresh token into a new token pair."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.errors import InvalidRequest
from sessiongate.http import (
    CookieTokenResponse,
    RefreshRequest,
    TokenResponse,
    build_resolver,
    in_cookie_mode,
    lambda_handler_for,
    refresh_cookie,
    route_responses,
    session_cookies,
    token_response,
)
from sessiongate.keys import KeyProvider

settings = load_settings()
keys = KeyProvider(settings)
app = build_resolver(settings)


@app.post(
    "/auth/refresh",
    operation_id="refresh",
    summary="Rotate a refresh token into a new token pair",
    responses=route_responses(
        200,
        TokenResponse | CookieTokenResponse,
        "The new token pair; the presented refresh token is superseded. In cookie mode the new "
        "refresh token replaces the sg_refresh cookie.",
        "invalid_request",
        "invalid_token",
        "refresh_conflict",
        "service_unavailable",
    ),
)
def refresh(request: Annotated[RefreshRequest | None, Body()] = None) -> Response[str]:
    cookie_mode = in_cookie_mode(app)
    # A token in the body wins; the cookie is read only in cookie mode (the CSRF guard).
    token = (request.refresh_token if request else None) or (refresh_cookie(app) if cookie_mode else None)
    if token is None:
        raise InvalidRequest("refreshToken: Field required (or send X-Session-Mode: cookie with the sg_refresh cookie)")
    now = int(time.time())
    issued = sessions.rotate(settings, keys.current(), refresh_token=token, now=now)
    return token_response(issued, session_cookies(app, settings, issued, now) if cookie_mode else None)


lambda_handler = lambda_handler_for(app)
