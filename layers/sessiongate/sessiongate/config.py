"""Settings parsed and validated once per cold start from the function environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sessiongate.errors import ConfigError

MIN_SECRET_BYTES = 32
DEFAULT_SESSIONS_TABLE = "sessiongate-sessions"
DEFAULT_USERS_TABLE = "sessiongate-users"


@dataclass(frozen=True)
class Settings:
    """Everything the domain needs from the environment, already validated."""

    sessions_table: str
    users_table: str
    token_issuer: str
    token_audience: str
    access_token_ttl: int
    idle_timeout: int
    absolute_timeout: int
    reuse_grace: int
    max_failed_sign_ins: int
    lockout_seconds: int
    max_sessions_per_user: int
    leeway: int
    auth_secret: bytes | None
    auth_secret_arn: str | None


def _integer(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check the configuration; raise ConfigError naming the bad variable."""
    env = os.environ if env is None else env
    secret = env.get("AUTH_SECRET", "")
    secret_arn = env.get("AUTH_SECRET_ARN", "").strip() or None
    if secret:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"AUTH_SECRET must be at least {MIN_SECRET_BYTES} bytes, got {len(secret.encode())}")
    elif not secret_arn:
        raise ConfigError("set AUTH_SECRET (local) or AUTH_SECRET_ARN (deployed): no signing key configured")

    settings = Settings(
        sessions_table=_text(env, "SESSIONS_TABLE", DEFAULT_SESSIONS_TABLE),
        users_table=_text(env, "USERS_TABLE", DEFAULT_USERS_TABLE),
        token_issuer=_text(env, "TOKEN_ISSUER", "sessiongate"),
        token_audience=_text(env, "TOKEN_AUDIENCE", "sessiongate-api"),
        access_token_ttl=_integer(env, "ACCESS_TOKEN_TTL_SECONDS", 900, 1),
        idle_timeout=_integer(env, "SESSION_IDLE_TIMEOUT_SECONDS", 2_592_000, 60),
        absolute_timeout=_integer(env, "SESSION_ABSOLUTE_TIMEOUT_SECONDS", 7_776_000, 60),
        reuse_grace=_integer(env, "REFRESH_REUSE_GRACE_SECONDS", 10, 0),
        max_failed_sign_ins=_integer(env, "MAX_FAILED_SIGN_INS", 5, 1),
        lockout_seconds=_integer(env, "LOCKOUT_SECONDS", 900, 1),
        max_sessions_per_user=_integer(env, "MAX_SESSIONS_PER_USER", 0, 0),
        leeway=_integer(env, "TOKEN_LEEWAY_SECONDS", 5, 0),
        auth_secret=secret.encode() if secret else None,
        auth_secret_arn=None if secret else secret_arn,
    )
    if settings.absolute_timeout < settings.idle_timeout:
        raise ConfigError(
            "SESSION_ABSOLUTE_TIMEOUT_SECONDS must be >= SESSION_IDLE_TIMEOUT_SECONDS "
            f"({settings.absolute_timeout} < {settings.idle_timeout})"
        )
    return settings
