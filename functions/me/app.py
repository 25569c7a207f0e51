"""GET /me: the signed-in user and their session (the seed's getCurrentUser)."""

import time

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sessiongate import sessions
from sessiongate.http import build_resolver, json_response, principal_of
from sessiongate.observability import logger, metrics, tracer

app = build_resolver()


@app.get("/me")
def me() -> Response[str]:
    user_id, session_id = principal_of(app)
    user, expires = sessions.current_user(user_id=user_id, session_id=session_id, now=int(time.time()))
    return json_response(
        200, {"user": user.asdict(), "session": {"id": session_id, "expires": sessions.iso8601(expires)}}
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
