"""SAM CLI's LocalApigwService, plus what API Gateway does and `sam local start-api` does not.

Added on top of SAM CLI:
- an authorizer result cache keyed by the identity source values, with the
  authorizer's ReauthorizeEvery as TTL; a cached policy is evaluated again
  against each request's method ARN (a too-narrow cached policy 403s the next
  route, as on AWS);
- API Gateway's failure mapping: the authorizer raising
  ``Exception("Unauthorized")`` -> 401, an explicit Deny or no matching Allow
  -> 403, any other authorizer failure -> 500 (SAM CLI answers 502, and lets
  a request through when the authorizer function is missing);
- the template's GatewayResponses (status, templates, literal headers) for
  those answers and for unknown routes.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from flask import Response, request
from samcli.lib.utils.stream_writer import StreamWriter
from samcli.local.apigw.authorizers.lambda_authorizer import LambdaAuthorizer
from samcli.local.apigw.exceptions import InvalidLambdaAuthorizerResponse
from samcli.local.apigw.local_apigw_service import LocalApigwService
from samcli.local.apigw.route import Route
from samcli.local.lambdafn.exceptions import FunctionNotFound
from samcli.local.services.base_local_service import LambdaOutputParser

LOG = logging.getLogger("local.apigw")

DEFAULT_AUTHORIZER_TTL = 300  # API Gateway's default when ReauthorizeEvery is not set
_DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
# response type -> (status, x-amzn-ErrorType, default message)
_RESPONSE_TYPES: dict[str, tuple[int, str, str | None]] = {
    "UNAUTHORIZED": (401, "UnauthorizedException", "Unauthorized"),
    "ACCESS_DENIED": (403, "AccessDeniedException", "User is not authorized to access this resource"),
    "AUTHORIZER_FAILURE": (500, "AuthorizerFailureException", None),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "AuthorizerConfigurationException", None),
    "MISSING_AUTHENTICATION_TOKEN": (403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
}


class GatewayResponseError(Exception):
    """API Gateway answers the request itself with one of its gateway responses."""

    def __init__(self, response_type: str, message: str | None = None, detail: str = "") -> None:
        self.response_type = response_type
        self.message = message if message is not None else _RESPONSE_TYPES[response_type][2]
        super().__init__(f"gateway response {response_type}: {detail or self.message}")


@dataclass
class GatewayResponses:
    """The API's GatewayResponses (SAM's ``GatewayResponses`` property or AWS::ApiGateway::GatewayResponse)."""

    responses: dict[str, dict[str, Any]] = field(default_factory=dict)

    def render(self, response_type: str, message: str | None) -> Response:
        status, error_type, _ = _RESPONSE_TYPES.get(response_type, (500, "InternalServerErrorException", None))
        spec = self.responses.get(response_type)
        if spec is None:
            spec = self.responses.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX", {})
        else:
            status = int(spec.get("StatusCode") or status)
        templates = spec.get("ResponseTemplates") or {}
        template = templates.get("application/json") or next(iter(templates.values()), None) or _DEFAULT_TEMPLATE
        request_id = str(uuid.uuid4())
        substitutions = {
            "$context.error.messageString": json.dumps(message),
            "$context.error.message": message or "",
            "$context.error.responseType": response_type,
            "$context.requestId": request_id,
            "$context.extendedRequestId": request_id,
        }
        body = re.sub(
            r"\$context\.(?:error\.messageString|error\.message|error\.responseType|requestId|extendedRequestId)",
            lambda m: substitutions[m.group(0)],
            str(template),
        )
        response = Response(body, status=status, content_type="application/json")
        response.headers["x-amzn-ErrorType"] = error_type
        response.headers["x-amzn-RequestId"] = request_id
        for name, value in self._headers(spec).items():
            response.headers[name] = value
        return response

    @staticmethod
    def _headers(spec: Mapping[str, Any]) -> dict[str, str]:
        parameters = spec.get("ResponseParameters") or {}
        raw: dict[str, Any] = dict(parameters.get("Headers") or {})  # SAM's form
        for key, value in parameters.items():  # CloudFormation's form
            if key.startswith("gatewayresponse.header."):
                raw[key[len("gatewayresponse.header.") :]] = value
        headers = {}
        for name, value in raw.items():
            text = str(value)
            if len(text) >= 2 and text[0] == text[-1] == "'":
                headers[name] = text[1:-1]
            elif text.startswith("method.request.header."):
                found = request.headers.get(text[len("method.request.header.") :])
                if found is not None:
                    headers[name] = found
        return headers


class AuthorizerCache:
    """API Gateway's authorizer result cache: identity source values -> the authorizer's response."""

    def __init__(self, ttls: Mapping[str, int], clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000):
        self.ttls = dict(ttls)
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[tuple[str, tuple[str, ...]], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def ttl(self, authorizer_name: str) -> int:
        return self.ttls.get(authorizer_name, DEFAULT_AUTHORIZER_TTL)

    def get(self, authorizer_name: str, identity: tuple[str, ...]) -> str | None:
        if self.ttl(authorizer_name) <= 0 or not identity:
            return None
        with self._lock:
            entry = self._entries.get((authorizer_name, identity))
            if entry is None or entry[0] <= self.clock():
                self._entries.pop((authorizer_name, identity), None)
                return None
            return entry[1]

    def put(self, authorizer_name: str, identity: tuple[str, ...], response: str) -> None:
        ttl = self.ttl(authorizer_name)
        if ttl <= 0 or not identity:
            return
        with self._lock:
            now = self.clock()
            if len(self._entries) >= self.max_entries:
                for key in [key for key, (expires, _) in self._entries.items() if expires <= now]:
                    del self._entries[key]
                if len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
            self._entries[(authorizer_name, identity)] = (now + ttl, response)


def _arn_pattern(resource_arn: str) -> re.Pattern[str]:
    return re.compile(re.escape(resource_arn).replace(r"\*", ".*").replace(r"\?", ".") + r"\Z")


def explicit_deny(response: Mapping[str, Any], method_arn: str) -> bool:
    """True when a Deny statement for execute-api:Invoke matches the method ARN (Deny beats Allow, as in IAM)."""
    for statement in (response.get("policyDocument") or {}).get("Statement") or []:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
            continue
        actions = statement.get("Action") or []
        actions = actions if isinstance(actions, list) else [actions]
        if not {"execute-api:Invoke", "execute-api:*", "*"} & set(actions):
            continue
        resources = statement.get("Resource") or []
        resources = resources if isinstance(resources, list) else [resources]
        if any(_arn_pattern(str(arn)).match(method_arn) for arn in resources):
            return True
    return False


class _QuietExpected(logging.Filter):
    """SAM CLI logs every authorizer refusal as an error and every empty body (a 204) as a warning."""

    _EXPECTED = ("gateway response UNAUTHORIZED", "gateway response ACCESS_DENIED", "Lambda returned empty body")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(expected in message for expected in self._EXPECTED)


class CachingApigwService(LocalApigwService):
    """LocalApigwService with API Gateway's authorizer cache, failure mapping and gateway responses."""

    def __init__(
        self,
        *args: Any,
        authorizer_cache: AuthorizerCache,
        gateway_responses: GatewayResponses,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.authorizer_cache = authorizer_cache
        self.gateway_responses = gateway_responses
        logging.getLogger("samcli.local.apigw.local_apigw_service").addFilter(_QuietExpected())

    # -- error handling -------------------------------------------------

    def _construct_error_handling(self) -> None:
        super()._construct_error_handling()

        def missing(*_: Any) -> Response:
            # API Gateway's answer for a path/method it has no route for.
            return self.gateway_responses.render(
                "MISSING_AUTHENTICATION_TOKEN", _RESPONSE_TYPES["MISSING_AUTHENTICATION_TOKEN"][2]
            )

        self._app.register_error_handler(404, missing)
        self._app.register_error_handler(405, missing)
        self._app.register_error_handler(
            GatewayResponseError, lambda exc: self.gateway_responses.render(exc.response_type, exc.message)
        )

    def _valid_identity_sources(self, request: Any, route: Route) -> bool:
        # Missing (or not matching ValidationExpression) identity source: API Gateway's 401,
        # without calling the authorizer. Raised so the template's UNAUTHORIZED response applies.
        if not super()._valid_identity_sources(request, route):
            raise GatewayResponseError("UNAUTHORIZED", detail="identity source missing or invalid")
        return True

    # -- authorizer ------------------------------------------------------

    def _identity(self, lambda_authorizer: LambdaAuthorizer, route: Route) -> tuple[str, ...]:
        kwargs = {
            "headers": request.headers,
            "querystring": request.query_string.decode("utf-8"),
            "context": self._build_v1_context(route)
            if lambda_authorizer.payload_version == LambdaAuthorizer.PAYLOAD_V1
            else self._build_v2_context(route),
            "stageVariables": self.api.stage_variables,
        }
        values = [source.find_identity_value(**kwargs) for source in lambda_authorizer.identity_sources]
        return tuple(str(value) for value in values) if all(values) else ()

    def _call_authorizer(self, lambda_authorizer: LambdaAuthorizer, event: dict[str, Any]) -> str:
        with StringIO() as buffer:
            try:
                self.lambda_runner.invoke(
                    lambda_authorizer.lambda_name,
                    json.dumps(event, sort_keys=True),
                    stdout=StreamWriter(buffer, auto_flush=True),
                    stderr=self.stderr,
                )
            except FunctionNotFound as exc:
                # SAM CLI lets the request through here; API Gateway fails closed.
                raise GatewayResponseError("AUTHORIZER_CONFIGURATION_ERROR", detail=str(exc)) from exc
            output, is_error = LambdaOutputParser.get_lambda_output(buffer)
        if is_error:
            error = json.loads(output)
            if error.get("errorMessage") == "Unauthorized":
                raise GatewayResponseError("UNAUTHORIZED")
            raise GatewayResponseError(
                "AUTHORIZER_FAILURE", detail=f"{error.get('errorType')}: {error.get('errorMessage')}"
            )
        return output if isinstance(output, str) else output.decode("utf-8")

    def _invoke_parse_lambda_authorizer(
        self,
        lambda_authorizer: LambdaAuthorizer,
        auth_lambda_event: dict[str, Any],
        route_lambda_event: dict[str, Any],
        route: Route,
    ) -> None:
        method_arn = self._create_method_arn(request, route.event_type)
        name = lambda_authorizer.authorizer_name
        identity = self._identity(lambda_authorizer, route)
        started = time.perf_counter()
        response = self.authorizer_cache.get(name, identity)
        cached = response is not None
        if response is None:
            response = self._call_authorizer(lambda_authorizer, auth_lambda_event)
        latency_ms = 0 if cached else round((time.perf_counter() - started) * 1000)

        try:
            # SAM CLI's reading of the output: shape of the policy, then an Allow matching the method ARN.
            allowed = lambda_authorizer.is_valid_response(response, method_arn)
            context = lambda_authorizer.get_context(response)
        except InvalidLambdaAuthorizerResponse as exc:
            raise GatewayResponseError("AUTHORIZER_CONFIGURATION_ERROR", detail=str(exc)) from exc
        if not cached:
            self.authorizer_cache.put(name, identity, response)  # the policy, Allow or Deny, as API Gateway does
        LOG.debug("authorizer %s: %s for %s", name, "cached policy" if cached else "invoked", method_arn)

        if not (
            lambda_authorizer.payload_version == LambdaAuthorizer.PAYLOAD_V2 and lambda_authorizer.use_simple_response
        ):
            if explicit_deny(json.loads(response), method_arn):
                raise GatewayResponseError(
                    "ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny"
                )
        if not allowed:
            raise GatewayResponseError("ACCESS_DENIED", detail=f"no Allow for {method_arn}")

        original_context = route_lambda_event.get("requestContext", {})
        if route.event_type == Route.HTTP and route.payload_format_version in [None, "2.0"]:
            original_context.update({"authorizer": {"lambda": context}})
        else:
            context.setdefault("integrationLatency", latency_ms)
            original_context.update({"authorizer": context})
        route_lambda_event.update({"requestContext": original_context})
