"""POST /auth/refresh: rotate a refresh token into a new token pair."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.http import RefreshRequest, build_resolver, token_response
from sessiongate.keys import KeyProvider
from sessiongate.observability import logger, metrics, tracer

settings = load_settings()
keys = KeyProvider(settings)
app = build_resolver()


@app.post("/auth/refresh")
def refresh(request: Annotated[RefreshRequest, Body()]) -> Response[str]:
    issued = sessions.rotate(settings, keys.current(), refresh_token=request.refresh_token, now=int(time.time()))
    return token_response(issued)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
