"""Access tokens (HS256 JWTs) and refresh tokens (opaque, HMAC-tagged, stored only as a hash)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass

import jwt

from sessiongate.errors import InvalidToken
from sessiongate.keys import KeySet

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a JWT typ, not a secret
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "role", "iat", "exp")
# A real token is ~400 bytes; refusing big ones early bounds the work an attacker can cause.
MAX_TOKEN_LENGTH = 4096

# Exactly what we issue: three unpadded base64url parts. PyJWT also takes a padded signature
# (one more spelling of the same token, which would miss caches and exact-string denylists).
JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

REFRESH_PREFIX = "rt1"
_TAG_LABEL = "refresh-tag/v1"
_SUCCESSOR_LABEL = "refresh-successor/v1"
# Matched with fullmatch only (`$` also matches before a trailing newline). The generation
# must be canonical ("0", "17", never "007"): one token string per (session, generation).
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_TAG = re.compile(r"[A-Za-z0-9_-]{43}")
_GENERATION = re.compile(r"0|[1-9][0-9]{0,8}")


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    role: str
    issued_at: int
    expires_at: float


def issue_access_token(
    keys: KeySet, *, issuer: str, audience: str, user_id: str, session_id: str, role: str, now: int, expires_at: int
) -> str:
    """Sign an access token with the first key of the key set."""
    key = keys.signing
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "sid": session_id,
        "role": role,
        "iat": now,
        "exp": expires_at,
    }
    return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE})


def _numeric_date(claims: dict, name: str) -> float:
    value = claims.get(name)
    # bool is an int in Python; NaN and infinities compare badly: refuse all of them.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"{name} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidToken(f"{name} is not finite")
    return value


def verify_access_token(
    token: str, keys: KeySet, *, issuer: str, audience: str, max_lifetime: int, leeway: int, now: float
) -> AccessClaims:
    """Return the claims of a valid access token or raise InvalidToken.

    PyJWT checks the signature (HS256 only), the presence of every required claim,
    iss and aud. The time claims are checked here against the caller's clock because
    PyJWT applies one leeway to exp and iat alike and has no injectable clock: exp is
    strict (RFC 7519: now must be before exp), the leeway only forgives an iat or nbf
    slightly in the future, and a token whose exp - iat exceeds the configured lifetime
    is refused even with a good signature.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not JWS_COMPACT.fullmatch(token):
        raise InvalidToken("token missing, too long or not three base64url parts")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM or header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("unexpected alg or typ")
        key = keys.by_kid(header.get("kid"))
        if key is None:
            raise InvalidToken("unknown kid")
        claims = jwt.decode(
            token,
            key.secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InvalidToken("token rejected") from exc

    exp, iat = _numeric_date(claims, "exp"), _numeric_date(claims, "iat")
    if not now < exp:
        raise InvalidToken("expired")
    if iat > now + leeway:
        raise InvalidToken("issued in the future")
    if "nbf" in claims and _numeric_date(claims, "nbf") > now + leeway:
        raise InvalidToken("not yet valid")
    if exp - iat > max_lifetime or exp <= iat:
        raise InvalidToken("lifetime longer than configured")
    sub, sid, role = claims.get("sub"), claims.get("sid"), claims.get("role")
    if not (isinstance(sub, str) and sub and isinstance(sid, str) and sid and isinstance(role, str) and role):
        raise InvalidToken("sub, sid and role must be non-empty strings")
    return AccessClaims(user_id=sub, session_id=sid, role=role, issued_at=int(iat), expires_at=exp)


# Refresh tokens: "rt1.<session id>.<generation>.<nonce>.<tag>".
# The tag (HMAC over session id, generation and nonce with an HKDF subkey) proves the
# server issued the token, so a superseded token (theft signal: revoke the session)
# is told apart from a forged one (revokes nothing). Only SHA-256 of the current
# token is stored. A successor is derived from its predecessor with a keyed HMAC, so
# a request that lost a rotation race can hand back the very token the winner minted.


@dataclass(frozen=True)
class RefreshToken:
    value: str
    session_id: str
    generation: int

    @property
    def digest(self) -> str:
        return token_digest(self.value)


def token_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tag(key: bytes, session_id: str, generation: int, nonce: str) -> str:
    return _b64(hmac.new(key, f"{session_id}.{generation}.{nonce}".encode(), hashlib.sha256).digest())


def _build(keys: KeySet, session_id: str, generation: int, nonce: str) -> RefreshToken:
    tag = _tag(keys.signing.subkey(_TAG_LABEL), session_id, generation, nonce)
    return RefreshToken(f"{REFRESH_PREFIX}.{session_id}.{generation}.{nonce}.{tag}", session_id, generation)


def new_refresh_token(keys: KeySet, session_id: str) -> RefreshToken:
    """The first refresh token of a new session (generation 0, 256 random bits)."""
    return _build(keys, session_id, 0, _b64(secrets.token_bytes(32)))


def successor_of(keys: KeySet, token: RefreshToken) -> RefreshToken:
    """The one token that replaces `token` at rotation (deterministic for a given key)."""
    mac = hmac.new(keys.signing.subkey(_SUCCESSOR_LABEL), token.value.encode(), hashlib.sha256).digest()
    return _build(keys, token.session_id, token.generation + 1, _b64(mac))


def refresh_token_shape(value: object) -> RefreshToken:
    """Check the shape only (no tag); raise InvalidToken for anything malformed."""
    if not isinstance(value, str) or len(value) > 512:
        raise InvalidToken("refresh token malformed")
    parts = value.split(".")
    if len(parts) != 5 or parts[0] != REFRESH_PREFIX:
        raise InvalidToken("refresh token malformed")
    _, session_id, generation, nonce, tag = parts
    shapes = ((_SESSION_ID, session_id), (_GENERATION, generation), (_NONCE, nonce), (_TAG, tag))
    if not all(pattern.fullmatch(part) for pattern, part in shapes):
        raise InvalidToken("refresh token malformed")
    return RefreshToken(value, session_id, int(generation))


def parse_refresh_token(value: object, keys: KeySet) -> RefreshToken:
    """Check the shape and the server's tag; raise InvalidToken for anything forged or malformed."""
    token = refresh_token_shape(value)
    nonce, tag = token.value.split(".")[3:]
    for key in keys.keys:
        expected = _tag(key.subkey(_TAG_LABEL), token.session_id, token.generation, nonce)
        # Compared as bytes: compare_digest refuses non-ASCII str (the shape check already excludes it).
        if hmac.compare_digest(expected.encode(), tag.encode()):
            return token
    raise InvalidToken("refresh token tag mismatch")
