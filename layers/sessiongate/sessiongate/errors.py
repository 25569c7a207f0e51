"""Domain errors. Handlers map each one to a response in one place."""

from __future__ import annotations


class SessionGateError(Exception):
    """Base class of every error the domain raises on purpose."""


class ConfigError(SessionGateError):
    """A configuration variable is missing or invalid; the function must not start."""


class InvalidRequest(SessionGateError):
    """The request is malformed (400 invalid_request)."""


class InvalidCredentials(SessionGateError):
    """Unknown email, wrong password or disabled user: deliberately indistinguishable (401)."""


class TooManyAttempts(SessionGateError):
    """Too many failed sign-ins for this email within the lockout window (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed sign-in attempts")
        self.retry_after = max(1, int(retry_after))


class InvalidToken(SessionGateError):
    """An access or refresh token is unknown, expired, revoked, reused or malformed (401)."""


class RefreshConflict(SessionGateError):
    """A concurrent refresh with the same token won the race; retry with the stored token (409)."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("refresh token was rotated concurrently")
        self.retry_after = retry_after


class ServiceUnavailable(SessionGateError):
    """DynamoDB or Secrets Manager failed; nothing was half-written, the client may retry (503)."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("a backing service is unavailable")
        self.retry_after = retry_after


class EmailTaken(SessionGateError):
    """A user with this email already exists."""


class UserNotFound(SessionGateError):
    """No user has this id or email."""


class SessionNotFound(SessionGateError):
    """No live session has this id."""


class Forbidden(SessionGateError):
    """The caller is signed in but their role may not do this (403)."""
