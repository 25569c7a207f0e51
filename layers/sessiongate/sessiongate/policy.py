"""What the authorizer answers API Gateway: a REST policy, or an HTTP API simple response.

The authorizer imports this module: keep it free of pydantic, argon2 and the event-handler resolver.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerResponseV2,
    APIGatewayRouteArn,
    parse_api_gateway_arn,
)

from sessiongate.config import RouteRule
from sessiongate.errors import Forbidden

if TYPE_CHECKING:
    from sessiongate.sessions import Principal


def route_of(arn: object) -> APIGatewayRouteArn:
    """The parts of a method ARN (REST) or route ARN (HTTP API); ValueError when it is not one."""
    if not isinstance(arn, str):
        raise ValueError("the ARN is not a string")
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api" or not all(parts[1:5]):
        raise ValueError("not an execute-api ARN")
    if len(parts[5].split("/")) < 3 or not all(parts[5].split("/")[:3]):
        raise ValueError("the ARN names no API, stage and method")
    return parse_api_gateway_arn(arn)


def permits(role: str, method: str, path: str, rules: Iterable[RouteRule]) -> bool:
    """Whether `role` may call `method` `path` (as in the ARN: no leading slash) under the rules."""
    return not any(rule.role != role and rule.matches(method, path) for rule in rules)


def rest_policy(principal: Principal, route: APIGatewayRouteArn, rules: Iterable[RouteRule]) -> dict[str, Any]:
    """Allow every route of this API and stage, with an explicit Deny on the routes of each rule
    whose role the principal lacks.

    API Gateway caches the policy per token (per identity sources for REQUEST authorizers) and
    evaluates the cached copy against every later route; an explicit Deny beats the Allow, so the
    one policy stays right for all of them.
    """
    response = APIGatewayAuthorizerResponse(
        principal_id=principal.user_id,
        region=route.region,
        aws_account_id=route.aws_account_id,
        api_id=route.api_id,
        stage=route.stage,
        context=principal.context(),
        partition=route.partition,
    )
    response.allow_all_routes()
    for rule in rules:
        if rule.role != principal.role:
            # One resource per verb: a `*` in the method part would also span `/` and deny more.
            for verb in rule.verbs:
                response.deny_route(verb, rule.path)
    return response.asdict()


def http_api_response(principal: Principal, route: APIGatewayRouteArn, rules: Iterable[RouteRule]) -> dict[str, Any]:
    """`{"isAuthorized": true, "context": ...}` when the principal's role may call this route; Forbidden otherwise.

    A simple response holds for every request that shares its cache key: with route rules, the
    authorizer's identity sources must include `$context.routeKey` (see examples/http-api).
    """
    if not permits(principal.role, route.http_method or "", route.resource, rules):
        raise Forbidden(f"role {principal.role} may not call this route")
    return APIGatewayAuthorizerResponseV2(authorize=True, context=principal.context()).asdict()


def http_api_denial() -> dict[str, Any]:
    """The simple response that refuses the request (HTTP API answers 403)."""
    return APIGatewayAuthorizerResponseV2(authorize=False).asdict()
