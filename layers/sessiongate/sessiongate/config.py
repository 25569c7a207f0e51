"""Settings parsed and validated once per cold start from the function environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sessiongate.errors import ConfigError

MIN_SECRET_BYTES = 32
DEFAULT_SESSIONS_TABLE = "sessiongate-sessions"
DEFAULT_USERS_TABLE = "sessiongate-users"
ROLES = frozenset({"USER", "ADMIN"})  # models.UserRole's values (tests keep the two equal)
HTTP_VERBS = ("GET", "POST", "PUT", "PATCH", "HEAD", "DELETE", "OPTIONS")
# A method-ARN path: no {param} or {proxy+} (a method ARN holds the real path, so such a rule
# would never match and would silently protect nothing); `*` is IAM's wildcard.
_RULE_PATH = re.compile(r"[A-Za-z0-9._\-/*]+")


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
    # Browser cookie mode (sessiongate.cookies): SameSite of both cookies, whether the access
    # token also goes in a cookie, and the origins CORS lets call with credentials.
    cookie_same_site: str = "Strict"
    access_token_cookie: bool = False
    cors_allowed_origins: tuple[str, ...] = ()


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


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _text(env, name, default)
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")


# A browser origin: scheme, DNS labels, optional port; nothing else (no path, no wildcard).
_ORIGIN = re.compile(r"https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(name: str, raw: str) -> str:
    """One origin as a browser serializes it in its Origin header (lower-case host, no default
    port), which is compared byte for byte: `https://App.example.com:443` would never match."""
    if not _ORIGIN.fullmatch(raw):
        raise ConfigError(f"{name}: {raw!r} is not an origin like https://app.example.com (no path, no *)")
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} has a port out of range") from None
    host = parts.hostname or ""
    if parts.scheme == "http" and host not in _LOOPBACK_HOSTS:
        raise ConfigError(f"{name}: {raw!r} must use https (http only for localhost and 127.0.0.1)")
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated origins. With credentials CORS cannot use `*`, and a page served over
    plain http could be tampered with, so each is an https origin (http only for loopback)."""
    origins = [_origin(name, part) for part in (p.strip() for p in env.get(name, "").split(",")) if part]
    return tuple(dict.fromkeys(origins))


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
        cookie_same_site=_choice(env, "COOKIE_SAME_SITE", "Strict", ("Strict", "Lax")),
        access_token_cookie=_choice(env, "ACCESS_TOKEN_COOKIE", "false", ("true", "false")) == "true",
        cors_allowed_origins=_origins(env, "CORS_ALLOWED_ORIGINS"),
    )
    if settings.absolute_timeout < settings.idle_timeout:
        raise ConfigError(
            "SESSION_ABSOLUTE_TIMEOUT_SECONDS must be >= SESSION_IDLE_TIMEOUT_SECONDS "
            f"({settings.absolute_timeout} < {settings.idle_timeout})"
        )
    return settings


@dataclass(frozen=True)
class RouteRule:
    """Routes only `role` may call: `method` ("*" or a verb) and `path`, as in a method ARN
    (no leading slash; `*` matches any characters, `/` included, like IAM)."""

    role: str
    method: str
    path: str

    @property
    def verbs(self) -> tuple[str, ...]:
        return HTTP_VERBS if self.method == "*" else (self.method,)

    def matches(self, method: str, path: str) -> bool:
        """IAM's reading of the rule's resource against one request's method and path."""
        pattern = re.escape(self.path).replace(r"\*", ".*")
        return method in self.verbs and re.fullmatch(pattern, path, flags=re.DOTALL) is not None


def load_route_rules(env: Mapping[str, str] | None = None) -> tuple[RouteRule, ...]:
    """Parse ROUTE_ROLES: comma-separated `ROLE:METHOD/PATH` rules, e.g. `ADMIN:*/admin/*`.

    Unset or empty means no rule (every signed-in role may call every route).
    """
    env = os.environ if env is None else env
    rules = []
    for entry in (part.strip() for part in env.get("ROUTE_ROLES", "").split(",")):
        if not entry:
            continue
        role, _, route = entry.partition(":")
        method, slash, path = route.strip().partition("/")
        role, method, path = role.strip(), method.strip().upper(), path.strip().lstrip("/")
        where = f"ROUTE_ROLES rule {entry!r}"
        if not slash or not path:
            raise ConfigError(f"{where}: expected ROLE:METHOD/PATH, e.g. ADMIN:*/admin/*")
        if role not in ROLES:
            raise ConfigError(f"{where}: unknown role {role!r} (one of {', '.join(sorted(ROLES))})")
        if method != "*" and method not in HTTP_VERBS:
            raise ConfigError(f"{where}: method must be * or one of {', '.join(HTTP_VERBS)}")
        if not _RULE_PATH.fullmatch(path):
            raise ConfigError(f"{where}: path may hold letters, digits, . _ - / and *; write * for a {{parameter}}")
        rules.append(RouteRule(role=role, method=method, path=path))
    return tuple(rules)
