"""Password hashing with Argon2id (argon2-cffi), OWASP's recommended parameters by default."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from sessiongate.errors import InvalidRequest

# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1.
OWASP_TIME_COST = 2
OWASP_MEMORY_KIB = 19_456
OWASP_PARALLELISM = 1
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class Passwords:
    """Hash and verify passwords; holds a dummy hash so unknown emails cost one verify too."""

    def __init__(
        self, time_cost: int = OWASP_TIME_COST, memory_kib: int = OWASP_MEMORY_KIB, parallelism: int = OWASP_PARALLELISM
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self.dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        check_new_password(password)
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def check_new_password(password: object) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
