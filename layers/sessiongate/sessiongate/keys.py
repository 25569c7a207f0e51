"""Signing keys: one local AUTH_SECRET, or a key set kept in Secrets Manager.

The secret holds either {"kid", "secret"} (what the template's GenerateSecretString
makes) or {"keys": [{"kid", "secret"}, ...]} during a rotation: the first key signs,
every key verifies. Anything else keyed by the secret uses an HKDF subkey with its
own label, never the signing key itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sessiongate.config import MIN_SECRET_BYTES, Settings
from sessiongate.errors import ConfigError, ServiceUnavailable

LOCAL_KID = "local"
SECRET_CACHE_SECONDS = 300
_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # always fullmatch: `$` would let a trailing newline in


def hkdf_sha256(key: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 HKDF-SHA256 (empty salt). The stdlib has no HKDF, and the layer
    carries no crypto package for HS256-only JWTs, so these few lines stay here."""
    prk = hmac.new(b"\x00" * 32, key, hashlib.sha256).digest()
    okm, block = b"", b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes = field(repr=False)

    def subkey(self, label: str) -> bytes:
        return hkdf_sha256(self.secret, f"sessiongate/{label}".encode())


@dataclass(frozen=True)
class KeySet:
    keys: tuple[SigningKey, ...]

    @property
    def signing(self) -> SigningKey:
        return self.keys[0]

    def by_kid(self, kid: object) -> SigningKey | None:
        for key in self.keys:
            if key.kid == kid:  # a kid is public: plain equality, no TypeError on odd input
                return key
        return None


def parse_key_set(value: Any) -> KeySet:
    """Build a KeySet from the secret's JSON value, refusing short or malformed keys."""
    entries = value.get("keys") if isinstance(value, dict) and "keys" in value else [value]
    if not isinstance(entries, list) or not entries:
        raise ConfigError("signing secret: expected {kid, secret} or {keys: [{kid, secret}, ...]}")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ConfigError("signing secret: every key must be an object {kid, secret}")
        kid, secret = entry.get("kid"), entry.get("secret")
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise ConfigError("signing secret: kid must be 1-64 characters of A-Z a-z 0-9 _ -")
        if not isinstance(secret, str) or len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"signing secret: key {kid!r} must be at least {MIN_SECRET_BYTES} bytes")
        keys.append(SigningKey(kid, secret.encode()))
    if len({k.kid for k in keys}) != len(keys):
        raise ConfigError("signing secret: kids must be unique")
    return KeySet(tuple(keys))


MAX_KEYS = 3


def rotated_key_set(current: KeySet, fresh: SigningKey) -> KeySet:
    """The key set after one scheduled rotation.

    Keys are [signing, next, previous]. Rotation promotes `next` (published one rotation
    ago, so every cached copy already verifies with it), adds `fresh` as the new `next`
    (verify-only) and keeps the old signing key to verify what it signed until then.
    A single-key set (the template's first secret) just gains `fresh` as `next`.
    """
    if len(current.keys) == 1:
        return KeySet((current.signing, fresh))
    signing, upcoming = current.keys[0], current.keys[1]
    return KeySet((upcoming, fresh, signing)[:MAX_KEYS])


def key_set_json(keys: KeySet) -> str:
    return json.dumps({"keys": [{"kid": k.kid, "secret": k.secret.decode()} for k in keys.keys]})


class KeyProvider:
    """Gives the current KeySet: fixed for AUTH_SECRET, cached from Secrets Manager otherwise."""

    def __init__(self, settings: Settings) -> None:
        self._arn = settings.auth_secret_arn or ""
        self._fixed = KeySet((SigningKey(LOCAL_KID, settings.auth_secret),)) if settings.auth_secret else None
        self._raw: Any = None
        self._parsed: KeySet | None = None

    def current(self) -> KeySet:
        if self._fixed is not None:
            return self._fixed
        # Imported here so a function running on AUTH_SECRET never pays for boto3.
        from aws_lambda_powertools.utilities import parameters

        try:
            raw = parameters.get_secret(self._arn, max_age=SECRET_CACHE_SECONDS)
        except parameters.exceptions.GetParameterError as exc:
            raise ServiceUnavailable() from exc
        if raw != self._raw or self._parsed is None:
            try:
                value = json.loads(raw) if isinstance(raw, str | bytes) else raw
            except ValueError as exc:
                raise ConfigError("signing secret is not JSON") from exc
            self._parsed, self._raw = parse_key_set(value), raw
        return self._parsed
