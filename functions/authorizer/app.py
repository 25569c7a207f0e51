"""API Gateway Lambda authorizer: Allow for a valid token of a live session, Unauthorized on any doubt.

One handler for three events: REST TOKEN (`type: TOKEN`), REST REQUEST (`type: REQUEST`, with
`methodArn`; also HTTP API payload 1.0) and HTTP API payload 2.0 (`version: "2.0"`, `routeArn`,
simple responses). Route roles (ROUTE_ROLES) become explicit Deny statements (REST) or
`isAuthorized: false` (HTTP API); both answer 403.

Kept small on purpose (no resolver, no pydantic, no argon2): its cold start is every
API's latency.
"""

import time
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from sessiongate import models, policy, sessions
from sessiongate.config import load_route_rules, load_settings
from sessiongate.cookies import ACCESS_TOKEN_COOKIE, header_values, listed_values, request_cookie
from sessiongate.errors import ConfigError, Forbidden, InvalidToken, ServiceUnavailable
from sessiongate.keys import KeyProvider
from sessiongate.observability import logger, metrics
from sessiongate.sessions import Principal

settings = load_settings()
route_rules = load_route_rules()
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


def request_token(headers: object, multi_value_headers: object = None, cookies: object = None) -> str:
    """The access token of a REQUEST event: Authorization's Bearer token, or without that header the
    access-token cookie of a request in cookie mode (X-Session-Mode: cookie, the CSRF guard).
    A repeated Authorization header gives no token (fail closed)."""
    authorization = header_values(headers, "authorization")
    listed = listed_values(multi_value_headers, "authorization")
    if authorization or listed:
        return bearer_token(authorization[0]) if len(authorization) == 1 and len(listed) <= 1 else ""
    return request_cookie(ACCESS_TOKEN_COOKIE, headers, multi_value_headers, cookies)


def _principal(access_token: str) -> Principal:
    return sessions.authorize(settings, keys.current(), access_token=access_token, now=time.time())


def _rest(event: dict[str, Any]) -> dict[str, Any]:
    """An IAM policy for a REST TOKEN or REQUEST event (API Gateway caches it for later routes)."""
    if event.get("type") == "TOKEN":
        token_event = APIGatewayAuthorizerTokenEvent(event)
        route = policy.route_of(token_event.get("methodArn"))
        token = bearer_token(token_event.get("authorizationToken"))
    elif event.get("type") == "REQUEST":
        request = APIGatewayAuthorizerRequestEvent(event)
        route = policy.route_of(request.get("methodArn"))
        token = request_token(request.get("headers"), request.get("multiValueHeaders"))
    else:
        raise ValueError("not a TOKEN, REQUEST or payload 2.0 authorizer event")
    return policy.rest_policy(_principal(token), route, route_rules)


def _http_api(event: APIGatewayAuthorizerEventV2) -> dict[str, Any]:
    """A simple response for an HTTP API payload 2.0 event."""
    route = policy.route_of(event.get("routeArn"))
    token = request_token(event.get("headers"), cookies=event.get("cookies"))
    return policy.http_api_response(_principal(token), route, route_rules)


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    http_api = isinstance(event, dict) and event.get("version") == "2.0"
    try:
        if http_api:
            answer = _http_api(APIGatewayAuthorizerEventV2(event))
        elif isinstance(event, dict):
            answer = _rest(event)
        else:
            raise TypeError("the event is not an object")
        metrics.add_metric(name="Authorizations", unit="Count", value=1)
        return answer
    except InvalidToken:
        reason = "invalid_token"
        logger.info("unauthorized", reason=reason)
    except Forbidden:
        reason = "forbidden"  # HTTP API only: a REST policy carries its Deny statements instead
        logger.info("forbidden", reason=reason)
    except Exception as exc:  # noqa: BLE001 - fail closed: any bug or outage is a 401, never a 500 or an Allow
        reason = FAILURE_REASONS.get(type(exc), "unexpected")
        logger.exception("authorizer failure", reason=reason)
        metrics.add_metric(name="AuthorizerFailures", unit="Count", value=1)
    # A metric of its own, so the reason dimension does not spread to the other metrics.
    with single_metric(name="Denials", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as denial:
        denial.add_dimension(name="reason", value=reason)
    if http_api:
        # HTTP APIs document only isAuthorized for simple responses (403), and a 500 for anything
        # they cannot read: a refusal is always this answer, never an exception.
        return policy.http_api_denial()
    raise Exception("Unauthorized")  # noqa: TRY002 - the exact signal API Gateway turns into 401
