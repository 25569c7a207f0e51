"""What the JSON route handlers share: request models, the error mapping, the token response.

The authorizer does not import this module (it would pull in pydantic and the resolver).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from sessiongate.errors import (
    InvalidCredentials,
    InvalidRequest,
    InvalidToken,
    RefreshConflict,
    ServiceUnavailable,
    TooManyAttempts,
)
from sessiongate.observability import logger, metrics, tracer
from sessiongate.sessions import IssuedTokens, iso8601

# Token responses must never be cached by a proxy or browser (RFC 6749 section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class SignInRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)
    refresh_token: str = Field(alias="refreshToken", min_length=1, max_length=512)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": code, "message": message}),
        headers={**NO_STORE, **(headers or {})},
    )


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=NO_STORE)


def token_response(issued: IssuedTokens) -> Response:
    return json_response(
        200,
        {
            "accessToken": issued.access_token,
            "refreshToken": issued.refresh_token,
            "tokenType": "Bearer",
            "expiresIn": issued.expires_in,
            "session": {"id": issued.session_id, "expires": iso8601(issued.session_expires)},
            "user": issued.user.asdict(),
        },
    )


def _validation_message(exc: RequestValidationError) -> str:
    # Name the field and the rule, never echo the input (it may be a password).
    first: dict[str, Any] = next(iter(exc.errors()), {})
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


def build_resolver() -> APIGatewayRestResolver:
    """A REST resolver that validates bodies and maps each domain error to its response."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid_body(exc: RequestValidationError) -> Response:
        return error(400, "invalid_request", _validation_message(exc))

    @app.exception_handler([InvalidRequest, binascii.Error, UnicodeDecodeError])
    def _invalid_request(exc: Exception) -> Response:
        message = str(exc) if isinstance(exc, InvalidRequest) else "body is not valid base64-encoded UTF-8"
        return error(400, "invalid_request", message)

    @app.exception_handler(InvalidCredentials)
    def _invalid_credentials(exc: InvalidCredentials) -> Response:
        return error(401, "invalid_credentials", "Invalid email or password.")

    @app.exception_handler(InvalidToken)
    def _invalid_token(exc: InvalidToken) -> Response:
        return error(401, "invalid_token", "The token is invalid, expired or revoked.")

    @app.exception_handler(TooManyAttempts)
    def _too_many(exc: TooManyAttempts) -> Response:
        return error(
            429,
            "too_many_attempts",
            "Too many failed sign-ins; try again later.",
            {"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(RefreshConflict)
    def _conflict(exc: RefreshConflict) -> Response:
        return error(
            409,
            "refresh_conflict",
            "The refresh token was just rotated by another request; retry with the newest one.",
            {"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable) -> Response:
        return error(503, "service_unavailable", "Try again shortly.", {"Retry-After": str(exc.retry_after)})

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return error(404, "not_found", "No such route.")

    return app


def principal_of(app: APIGatewayRestResolver) -> tuple[str, str]:
    """(user id, session id) from the context the authorizer returned; 401 if it is absent."""
    context = app.current_event.request_context.authorizer.get_context()
    user_id, session_id = context.get("userId"), context.get("sessionId")
    if not (isinstance(user_id, str) and user_id and isinstance(session_id, str) and session_id):
        raise InvalidToken("no authorizer context")
    return user_id, session_id


def lambda_handler_for(app: APIGatewayRestResolver) -> Callable[[dict, LambdaContext], dict]:
    """The Lambda entry point of a JSON route function: logging context, metrics, tracing, then the resolver."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def lambda_handler(event: dict, context: LambdaContext) -> dict:
        return app.resolve(event, context)

    return lambda_handler
