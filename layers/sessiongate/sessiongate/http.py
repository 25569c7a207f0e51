"""What the JSON route handlers share: request models, the error mapping, the token response.

The authorizer does not import this module (it would pull in pydantic and the resolver).
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable
from types import UnionType
from typing import Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from sessiongate.config import Settings
from sessiongate.cookies import ACCESS_TOKEN_COOKIE, MODE_HEADER, REFRESH_TOKEN_COOKIE, is_cookie_mode, request_cookie
from sessiongate.errors import (
    Forbidden,
    InvalidCredentials,
    InvalidRequest,
    InvalidToken,
    RefreshConflict,
    ServiceUnavailable,
    SessionNotFound,
    TooManyAttempts,
    UserNotFound,
)
from sessiongate.models import UserRole
from sessiongate.observability import logger, metrics, tracer
from sessiongate.sessions import IssuedTokens, iso8601
from sessiongate.tokens import JWS_COMPACT

# Token responses must never be cached by a proxy or browser (RFC 6749 section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# Python's whitespace (str.strip, re's \s), spelled out: JSON Schema regexes are ECMA-262, whose \s differs.
_WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# What sessions.normalize_email accepts (stripped, one @, no whitespace); for the OpenAPI
# description only: json_schema_extra never validates, normalize_email answers the 400.
EMAIL_PATTERN = f"^[{_WHITESPACE}]*[^@{_WHITESPACE}]+@[^@{_WHITESPACE}]+[{_WHITESPACE}]*$"


class SignInRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    email: str = Field(min_length=3, max_length=320, json_schema_extra={"pattern": EMAIL_PATTERN})
    password: str = Field(min_length=1, max_length=1024)


def _required_string(schema: dict[str, Any]) -> None:
    """The OpenAPI shape of a field that only cookie mode may leave out: a required string
    (the description says so; at run time the handler answers its absence with a 400)."""
    schema.pop("default", None)
    (string,) = [option for option in schema.pop("anyOf") if option.get("type") == "string"]
    schema.update(string)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(
        strict=True, extra="ignore", populate_by_name=True, json_schema_extra={"required": ["refreshToken"]}
    )
    refresh_token: str | None = Field(
        default=None,
        alias="refreshToken",
        min_length=1,
        max_length=512,
        description="Required, unless the request is in cookie mode (the token is then the sg_refresh cookie).",
        json_schema_extra=_required_string,
    )


class SignOutAllRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    keepCurrent: bool = Field(default=False, description="Keep the calling session signed in.")


class PasswordChangeRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    currentPassword: str = Field(min_length=1, max_length=1024)
    newPassword: str = Field(min_length=8, max_length=1024)


# --- response models: the OpenAPI description only -------------------------------------
# The routes name them in `responses=` for Powertools' OpenAPI generator; nothing validates
# a response against them at run time, so what a handler sends is exactly what error(),
# json_response() and token_response() build. tools/openapi.py merges the functions'
# descriptions into openapi.json; the e2e tier checks real responses against it.

# What tokens.verify_access_token accepts: three unpadded base64url parts.
JWT_PATTERN = f"^{JWS_COMPACT.pattern}$"


class UserInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    email: str = Field(min_length=3, max_length=320)
    name: str | None
    role: UserRole


class SessionInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    expires: str = Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
        json_schema_extra={"format": "date-time"},
        description="End of the session's sliding idle window (ISO 8601, UTC).",
    )


class TokenResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accessToken: str = Field(
        pattern=JWT_PATTERN, description="JWT (HS256, typ at+jwt) to send as `Authorization: Bearer <token>`."
    )
    refreshToken: str = Field(min_length=1, max_length=512, description="Opaque; single use.")
    tokenType: Literal["Bearer"]
    expiresIn: int = Field(ge=1, description="Seconds until the access token expires.")
    session: SessionInfo
    user: UserInfo


def _optional_not_empty(schema: dict[str, Any]) -> None:
    """A field that may be absent but is never its placeholder default ("")."""
    schema.pop("default", None)


class CookieTokenResponse(BaseModel):
    """A token response in cookie mode: the refresh token is only in the sg_refresh cookie, and
    the access token is in the body unless ACCESS_TOKEN_COOKIE puts it in sg_access."""

    model_config = ConfigDict(extra="forbid")
    accessToken: str = Field(
        default="",
        pattern=JWT_PATTERN,
        description="Absent when ACCESS_TOKEN_COOKIE=true (the token is then the sg_access cookie).",
        json_schema_extra=_optional_not_empty,
    )
    tokenType: Literal["Bearer"]
    expiresIn: int = Field(ge=1, description="Seconds until the access token expires.")
    session: SessionInfo
    user: UserInfo


class MeResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: UserInfo
    session: SessionInfo


class SessionListItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    createdAt: str = Field(json_schema_extra={"format": "date-time"})
    rotatedAt: str = Field(json_schema_extra={"format": "date-time"}, description="Last refresh (or sign-in).")
    expires: str = Field(json_schema_extra={"format": "date-time"})
    userAgent: str | None
    sourceIp: str | None
    current: bool = Field(description="The session of the calling token.")


class SessionsResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sessions: list[SessionListItem]


class RevokedResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sessionsRevoked: int = Field(ge=0)


class ErrorResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error: str = Field(description="Stable machine-readable code.")
    message: str = Field(description="Human-readable; may change.")


# Each error code the handlers answer: (status, carries Retry-After, meaning).
ERROR_CODES: dict[str, tuple[int, bool, str]] = {
    "invalid_request": (400, False, "the body is not JSON, or a field is missing, of the wrong type or out of bounds"),
    "invalid_credentials": (401, False, "unknown email, wrong password or disabled user (indistinguishable)"),
    "invalid_token": (401, False, "the token is unknown, expired, revoked or reused"),
    "forbidden": (403, False, "the caller's role may not use this route"),
    "not_found": (404, False, "no such route"),
    "session_not_found": (404, False, "no live session of the caller has this id"),
    "user_not_found": (404, False, "no user has this id"),
    "refresh_conflict": (409, True, "a concurrent refresh rotated this token; retry with the newest one"),
    "too_many_attempts": (429, True, "too many failed sign-ins for this email; wait Retry-After seconds"),
    "service_unavailable": (503, True, "a backing service failed and nothing was written; retry"),
}
ERROR_SCHEMA_REF = "#/components/schemas/ErrorResponse"
_NO_STORE_HEADERS: dict[str, Any] = {
    "Cache-Control": {"required": True, "schema": {"type": "string", "const": "no-store"}},
    "Pragma": {"required": True, "schema": {"type": "string", "const": "no-cache"}},
}
_RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def route_responses(
    success: int, model: type[BaseModel] | UnionType | None, description: str, *errors: str
) -> dict[int, OpenAPIResponse]:
    """A route's `responses=` for the OpenAPI description: its success and the error codes it answers."""
    responses: dict[int, OpenAPIResponse] = {
        success: {
            "description": description,
            "headers": dict(_NO_STORE_HEADERS),
            "content": {"application/json": {"model": model}} if model else {},
        }
    }
    by_status: dict[int, list[str]] = {}
    for code in errors:
        by_status.setdefault(ERROR_CODES[code][0], []).append(code)
    for status, codes in sorted(by_status.items()):
        headers = dict(_NO_STORE_HEADERS)
        if all(ERROR_CODES[code][1] for code in codes):
            headers.update(_RETRY_AFTER)
        responses[status] = {
            "description": "; ".join(f"`{code}`: {ERROR_CODES[code][2]}" for code in codes),
            "headers": headers,
            "content": {
                "application/json": {
                    "schema": {"allOf": [{"$ref": ERROR_SCHEMA_REF}, {"properties": {"error": {"enum": codes}}}]}
                }
            },
        }
    return responses


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": code, "message": message}),
        headers={**NO_STORE, **(headers or {})},
    )


def json_response(status: int, body: Any, cookies: list[Cookie] | None = None) -> Response:
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(body), headers=NO_STORE, cookies=cookies
    )


def token_response(issued: IssuedTokens, cookies: list[Cookie] | None = None) -> Response:
    """The token pair as JSON; with `cookies` (cookie mode) the tokens they carry leave the body."""
    body: dict[str, Any] = {
        "accessToken": issued.access_token,
        "refreshToken": issued.refresh_token,
        "tokenType": "Bearer",
        "expiresIn": issued.expires_in,
        "session": {"id": issued.session_id, "expires": iso8601(issued.session_expires)},
        "user": issued.user.asdict(),
    }
    if cookies is not None:
        body.pop("refreshToken")
        if any(cookie.name == ACCESS_TOKEN_COOKIE for cookie in cookies):
            body.pop("accessToken")
    return json_response(200, body, cookies)


# --- cookie mode (sessiongate.cookies) --------------------------------------------------


def in_cookie_mode(app: APIGatewayRestResolver) -> bool:
    event = app.current_event
    return is_cookie_mode(event.get("headers"), event.get("multiValueHeaders"))


def refresh_cookie(app: APIGatewayRestResolver) -> str:
    """The sg_refresh cookie of a request in cookie mode ("" otherwise: the CSRF guard)."""
    event = app.current_event
    return request_cookie(REFRESH_TOKEN_COOKIE, event.get("headers"), event.get("multiValueHeaders"))


# Stage names and base paths are URL path segments; anything else (a `;`, a CR LF, an
# encoded character) must never reach a Set-Cookie header.
_BASE_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)*")


def base_path(app: APIGatewayRestResolver) -> str:
    """What the browser's URL has in front of the route: the stage on an execute-api URL
    (`/prod`), or nothing (a custom domain, the local stack). Cookie paths need it; a prefix
    that is not plain path segments gives "" (a cookie the browser will not send back,
    never an attribute smuggled into Set-Cookie)."""
    event = app.current_event
    full, route = event.request_context.get("path") or "", event.path or ""
    prefix = full[: -len(route)] if route and full.endswith(route) else ""
    return prefix if _BASE_PATH.fullmatch(prefix) else ""


def _cookie(settings: Settings, name: str, value: str, path: str, max_age: int) -> Cookie:
    return Cookie(
        name=name,
        value=value,
        path=path,
        secure=True,
        http_only=True,
        max_age=max_age,
        same_site=SameSite(settings.cookie_same_site),
    )


def session_cookies(app: APIGatewayRestResolver, settings: Settings, issued: IssuedTokens, now: int) -> list[Cookie]:
    """The refresh token for the auth routes only, for as long as the session; the access token,
    if ACCESS_TOKEN_COOKIE, for every path of the API, for as long as the token."""
    base = base_path(app)
    cookies = [
        _cookie(settings, REFRESH_TOKEN_COOKIE, issued.refresh_token, f"{base}/auth", issued.session_expires - now)
    ]
    if settings.access_token_cookie:
        cookies.append(_cookie(settings, ACCESS_TOKEN_COOKIE, issued.access_token, f"{base}/", issued.expires_in))
    return cookies


def cleared_cookies(app: APIGatewayRestResolver, settings: Settings) -> list[Cookie]:
    """Both cookies expired (Max-Age=0) on the paths they were set on, whatever the mode."""
    base = base_path(app)
    return [
        _cookie(settings, REFRESH_TOKEN_COOKIE, "", f"{base}/auth", 0),
        _cookie(settings, ACCESS_TOKEN_COOKIE, "", f"{base}/", 0),
    ]


def _validation_message(exc: RequestValidationError) -> str:
    # Name the field and the rule, never echo the input (it may be a password).
    first: dict[str, Any] = next(iter(exc.errors()), {})
    if first.get("type") == "json_invalid":
        return "body is not valid JSON"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


# Domain error -> (status, code, message); an error with `retry_after` also sends Retry-After.
DOMAIN_ERRORS: dict[type[Exception], tuple[int, str, str]] = {
    InvalidCredentials: (401, "invalid_credentials", "Invalid email or password."),
    InvalidToken: (401, "invalid_token", "The token is invalid, expired or revoked."),
    Forbidden: (403, "forbidden", "This route needs another role."),
    SessionNotFound: (404, "session_not_found", "No such session."),
    UserNotFound: (404, "user_not_found", "No such user."),
    RefreshConflict: (
        409,
        "refresh_conflict",
        "The refresh token was just rotated by another request; retry with the newest one.",
    ),
    TooManyAttempts: (429, "too_many_attempts", "Too many failed sign-ins; try again later."),
    ServiceUnavailable: (503, "service_unavailable", "Try again shortly."),
}


def parse_json_body(text: str) -> Any:
    """json.loads whose every refusal is a JSONDecodeError (which the resolver answers with 400):
    absurd nesting raises RecursionError and a 4,300-digit integer ValueError otherwise."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        raise json.JSONDecodeError(f"unparseable JSON ({type(exc).__name__})", text[:64], 0) from None


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for CORS_ALLOWED_ORIGINS, with credentials (cookies); None when no origin is listed.
    Powertools answers the preflight (OPTIONS) and echoes only a listed Origin."""
    if not settings.cors_allowed_origins:
        return None
    first, *others = settings.cors_allowed_origins
    return CORSConfig(
        allow_origin=first,
        extra_origins=others,
        allow_headers=[MODE_HEADER],
        expose_headers=["Retry-After"],
        max_age=600,
        allow_credentials=True,
    )


def build_resolver(settings: Settings) -> APIGatewayRestResolver:
    """A REST resolver that validates bodies, maps each domain error to its response, and
    answers CORS for the configured origins."""
    app = APIGatewayRestResolver(
        cors=cors_config(settings), enable_validation=True, json_body_deserializer=parse_json_body
    )

    @app.exception_handler(RequestValidationError)
    def _invalid_body(exc: RequestValidationError) -> Response:
        return error(400, "invalid_request", _validation_message(exc))

    @app.exception_handler([InvalidRequest, binascii.Error, UnicodeDecodeError])
    def _invalid_request(exc: Exception) -> Response:
        message = str(exc) if isinstance(exc, InvalidRequest) else "body is not valid base64-encoded UTF-8"
        return error(400, "invalid_request", message)

    @app.exception_handler(list(DOMAIN_ERRORS))
    def _domain_error(exc: Exception) -> Response:
        status, code, message = DOMAIN_ERRORS[type(exc)]
        retry_after = getattr(exc, "retry_after", None)
        return error(status, code, message, {"Retry-After": str(retry_after)} if retry_after is not None else None)

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return error(404, "not_found", "No such route.")

    return app


def role_of(app: APIGatewayRestResolver) -> str:
    """The caller's role from the authorizer context."""
    return str(app.current_event.request_context.authorizer.get_context().get("role") or "")


def session_list(sessions: list[Any], current_session_id: str) -> dict[str, Any]:
    return {
        "sessions": [
            {
                "id": s.id,
                "createdAt": iso8601(int(s.created_at)),
                "rotatedAt": iso8601(int(s.rotated_at)),
                "expires": iso8601(s.expires_epoch),
                "userAgent": s.user_agent,
                "sourceIp": s.source_ip,
                "current": s.id == current_session_id,
            }
            for s in sessions
        ]
    }


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
        if not accept_content_type(event):
            return NOT_JSON_RESPONSE
        response = app.resolve(event, context)
        # CORS headers depend on the request's Origin (echoed, or left out for an unlisted
        # one): a cache in front must key on it, preflights included.
        response.setdefault("multiValueHeaders", {}).setdefault("Vary", ["Origin"])
        return response

    return lambda_handler


# Every body is JSON. Powertools would otherwise parse form and multipart bodies by their
# Content-Type (a cross-site form needs no CORS preflight), answer other types with its own
# 415 shape, and fail outright on a multipart type without a boundary.
NOT_JSON_RESPONSE = {
    "statusCode": 400,
    "multiValueHeaders": {"Content-Type": ["application/json"], **{k: [v] for k, v in NO_STORE.items()}},
    "body": json.dumps({"error": "invalid_request", "message": "Content-Type must be application/json"}),
    "isBase64Encoded": False,
}


def accept_content_type(event: dict) -> bool:
    """True unless the request has a body of another Content-Type than JSON (none means JSON);
    normalises the header in the event so the resolver reads `APPLICATION/JSON` as JSON too."""
    if not event.get("body"):
        return True
    for key, as_list in (("headers", False), ("multiValueHeaders", True)):
        headers: dict[str, Any] = event.get(key) or {}
        for name in [n for n in headers if n.lower() == "content-type"]:
            values = headers[name] if as_list else [headers[name]]
            media = [str(v).split(";", 1)[0].strip().lower() for v in values or []]
            if any(m != "application/json" for m in media):
                return False
            headers[name] = ["application/json"] * len(media) if as_list else "application/json"
    return True
