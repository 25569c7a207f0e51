"""REST TOKEN authorizer: Allow for a valid token of a live session, Unauthorized on any doubt.

Kept small on purpose (no resolver, no pydantic, no argon2): its cold start is every
API's latency.
"""

import time

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
    parse_api_gateway_arn,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from sessiongate import models, sessions
from sessiongate.config import load_settings
from sessiongate.errors import ConfigError, InvalidToken, ServiceUnavailable
from sessiongate.keys import KeyProvider
from sessiongate.observability import logger, metrics

settings = load_settings()
keys = KeyProvider(settings)

try:  # present in the Lambda Python runtime (SnapStart hooks); absent elsewhere
    from snapshot_restore_py import register_before_snapshot
except ImportError:  # pragma: no cover - local runs and tests
    pass
else:
    # Build the DynamoDB client before the snapshot so restores skip it. No connection is
    # opened (botocore connects on the first call), and nothing random is cached here:
    # ids and secrets are drawn from os.urandom at use, so restored copies never share them.
    register_before_snapshot(models.prepare_clients)


# Denials that are outages rather than bad tokens: they also count as AuthorizerFailures (alarmed).
FAILURE_REASONS = {ServiceUnavailable: "backend_unavailable", ConfigError: "misconfigured"}


def bearer_token(header: object) -> str:
    """The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive."""
    if not isinstance(header, str):
        return ""
    scheme, _, token = header.partition(" ")
    return token if scheme.lower() == "bearer" and token and " " not in token else ""


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict:
    try:
        route = parse_api_gateway_arn(event.method_arn)
        principal = sessions.authorize(
            settings, keys.current(), access_token=bearer_token(event.authorization_token), now=time.time()
        )
        policy = APIGatewayAuthorizerResponse(
            principal_id=principal.user_id,
            region=route.region,
            aws_account_id=route.aws_account_id,
            api_id=route.api_id,
            stage=route.stage,
            context=principal.context(),
        )
        # API Gateway caches this policy for the token and reuses it on every route of the API and stage.
        policy.allow_all_routes()
        metrics.add_metric(name="Authorizations", unit="Count", value=1)
        return policy.asdict()
    except InvalidToken:
        reason = "invalid_token"
        logger.info("unauthorized", reason=reason)
    except Exception as exc:  # noqa: BLE001 - fail closed: any bug or outage is a 401, never a 500 or an Allow
        reason = FAILURE_REASONS.get(type(exc), "unexpected")
        logger.exception("authorizer failure", reason=reason)
        metrics.add_metric(name="AuthorizerFailures", unit="Count", value=1)
    # A metric of its own, so the reason dimension does not spread to the other metrics.
    with single_metric(name="Denials", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as denial:
        denial.add_dimension(name="reason", value=reason)
    raise Exception("Unauthorized")  # noqa: TRY002 - the exact signal API Gateway turns into 401
