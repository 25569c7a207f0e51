"""POST /auth/refresh: rotate a refresh token into a new token pair."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.http import (
    RefreshRequest,
    TokenResponse,
    build_resolver,
    lambda_handler_for,
    route_responses,
    token_response,
)
from sessiongate.keys import KeyProvider

settings = load_settings()
keys = KeyProvider(settings)
app = build_resolver()


@app.post(
    "/auth/refresh",
    operation_id="refresh",
    summary="Rotate a refresh token into a new token pair",
    responses=route_responses(
        200,
        TokenResponse,
        "The new token pair; the presented refresh token is superseded.",
        "invalid_request",
        "invalid_token",
        "refresh_conflict",
        "service_unavailable",
    ),
)
def refresh(request: Annotated[RefreshRequest, Body()]) -> Response[str]:
    issued = sessions.rotate(settings, keys.current(), refresh_token=request.refresh_token, now=int(time.time()))
    return token_response(issued)


lambda_handler = lambda_handler_for(app)
