"""POST /auth/sign-out: revoke the caller's session (behind the authorizer)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sessiongate import sessions
from sessiongate.http import NO_STORE, build_resolver, principal_of
from sessiongate.observability import logger, metrics, tracer

app = build_resolver()


@app.post("/auth/sign-out")
def sign_out() -> Response[None]:
    user_id, session_id = principal_of(app)
    sessions.sign_out(session_id=session_id)
    logger.info("signed out", user_id=user_id, session_id=session_id)
    return Response(status_code=204, headers=NO_STORE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
