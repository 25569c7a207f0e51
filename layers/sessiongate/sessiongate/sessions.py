"""The domain: every decision about users, sessions and tokens lives here.

Functions take their configuration and clock as arguments and call the data layer in
models.py; handlers only parse events and map results or errors to responses.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sessiongate import models, tokens
from sessiongate.config import Settings
from sessiongate.errors import (
    InvalidCredentials,
    InvalidRequest,
    InvalidToken,
    RefreshConflict,
    ServiceUnavailable,
    SessionNotFound,
    TooManyAttempts,
    UserNotFound,
)
from sessiongate.keys import KeySet
from sessiongate.models import Session, User, UserRole
from sessiongate.observability import logger, metrics

if TYPE_CHECKING:  # argon2 stays out of the authorizer's imports
    from sessiongate.passwords import Passwords

MAX_EMAIL_LENGTH = 320
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True)
class UserView:
    id: str
    email: str
    name: str | None
    role: str

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(id=user.id, email=user.email, name=user.name, role=user.role)

    def asdict(self) -> dict[str, str | None]:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role}


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    session_expires: int
    user: UserView


@dataclass(frozen=True)
class Principal:
    """Who the authorizer let in; `context` is what API Gateway passes to the backend."""

    user_id: str
    session_id: str
    role: str
    email: str

    def context(self) -> dict[str, str]:
        return {"userId": self.user_id, "sessionId": self.session_id, "role": self.role, "email": self.email}


@dataclass(frozen=True)
class SweepReport:
    deleted: int  # sessions this run deleted
    skipped: int  # extended after the index was read, or already gone
    failed: int  # deletes that kept failing: left for the next run
    buckets: int  # expiry buckets read
    complete: bool  # every bucket read and every expired session dealt with


def iso8601(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def normalize_email(email: object) -> str:
    if not isinstance(email, str):
        raise InvalidRequest("email must be a string")
    normalized = email.strip().lower()
    if len(normalized) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(normalized):
        raise InvalidRequest("email is not a valid address")
    return normalized


def _issue(settings: Settings, keys: KeySet, session: Session, refresh: tokens.RefreshToken, now: int) -> IssuedTokens:
    # An access token never outlives its session.
    access_expires = min(now + settings.access_token_ttl, session.expires_epoch)
    access = tokens.issue_access_token(
        keys,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        user_id=session.user_id,
        session_id=session.id,
        role=session.role,
        now=now,
        expires_at=access_expires,
    )
    view = UserView(id=session.user_id, email=session.email, name=session.name, role=session.role)
    return IssuedTokens(access, refresh.value, access_expires - now, session.id, session.expires_epoch, view)


def _locked_for(settings: Settings, claim: models.EmailClaim | None, now: int) -> int:
    """Seconds the email stays locked (0: not locked), from the claim as read."""
    if claim is None or claim.failed_sign_ins < settings.max_failed_sign_ins:
        return 0
    return max(0, int(claim.last_failed_at or 0) + settings.lockout_seconds - now)


def _take_attempt(settings: Settings, email: str, claim: models.EmailClaim | None, *, has_user: bool, now: int) -> None:
    """Reserve one password check for this email, or raise TooManyAttempts (429).

    A reservation that fails while the email is not locked lost a race (another request
    restarted or cleared the window meanwhile): look again and retry, a bounded few times.
    """
    locked_for = 0
    for _ in range(3):
        locked_for = _locked_for(settings, claim, now)
        if locked_for:
            break
        last_failed_at = int(claim.last_failed_at) if claim is not None and claim.last_failed_at else None
        if models.reserve_sign_in_attempt(
            email,
            now=now,
            window=settings.lockout_seconds,
            limit=settings.max_failed_sign_ins,
            has_user=has_user,
            last_failed_at=last_failed_at,
        ):
            return
        claim = models.get_claim(email)
    metrics.add_metric(name="SignInsLocked", unit="Count", value=1)
    raise TooManyAttempts(locked_for or 1)


# --- sign-in --------------------------------------------------------------------------


def sign_in(
    settings: Settings,
    keys: KeySet,
    passwords: Passwords,
    *,
    email: str,
    password: str,
    user_agent: str | None,
    source_ip: str | None,
    now: int,
) -> IssuedTokens:
    """Check the credentials and open a brand-new session (never reuse one: no fixation).

    Unknown email, wrong password and disabled user run the same single Argon2id verify
    and end in the same InvalidCredentials; failures are counted per email, known or
    not, so the 429 of a locked email tells an attacker nothing either.
    """
    email = normalize_email(email)
    claim = models.get_claim(email)
    # One user read whether or not the email exists: the same DynamoDB work as a wrong password.
    user = models.get_user(claim.user_id if claim is not None and claim.user_id else models.ABSENT_USER_ID)
    _take_attempt(settings, email, claim, has_user=user is not None, now=now)

    verified = passwords.verify(user.password_hash if user else passwords.dummy_hash, password)
    if user is None or not verified or user.disabled:
        metrics.add_metric(name="SignInsFailed", unit="Count", value=1)
        raise InvalidCredentials()  # the reserved attempt stays counted

    models.clear_failed_sign_ins(email)  # give the attempt back
    if passwords.needs_rehash(user.password_hash):
        models.update_password_hash(user, passwords.hash(password))

    session_id = new_session_id()
    refresh = tokens.new_refresh_token(keys, session_id)
    expires = now + min(settings.idle_timeout, settings.absolute_timeout)
    session = Session(
        session_id,
        user_id=user.id,
        session_token=refresh.digest,
        generation=0,
        expires=models.utc(expires),
        absolute_expires=now + settings.absolute_timeout,
        created_at=now,
        rotated_at=now,
        expiry_bucket=models.expiry_bucket(session_id, expires),
        role=user.role,
        email=user.email,
        name=user.name,
        user_agent=(user_agent or "")[:512] or None,
        source_ip=source_ip or None,
    )
    models.put_new_session(session)
    if settings.max_sessions_per_user:
        _drop_oldest_sessions(user.id, keep=settings.max_sessions_per_user, new_session_id=session_id)
    metrics.add_metric(name="SignIns", unit="Count", value=1)
    logger.info("signed in", user_id=user.id, session_id=session_id)
    return _issue(settings, keys, session, refresh, now)


def new_session_id() -> str:
    """256 random bits, URL-safe, never beginning with "-": one id in 64 would, and a command
    line (the admin CLI's revoke-session, or any argparse or getopt tool) reads it as an option."""
    while True:
        session_id = secrets.token_urlsafe(32)
        if not session_id.startswith("-"):
            return session_id


def _drop_oldest_sessions(user_id: str, *, keep: int, new_session_id: str) -> None:
    """Revoke the oldest sessions beyond `keep` (MAX_SESSIONS_PER_USER), never the new one.
    The byUser index lags its table by a moment, so the new session may not be listed yet."""
    others = [sid for sid in models.session_ids_of_user(user_id) if sid != new_session_id]
    excess = len(others) + 1 - keep
    if excess > 0:
        models.delete_sessions(others[:excess])
        metrics.add_metric(name="SessionsLimited", unit="Count", value=excess)


# --- authorizer -----------------------------------------------------------------------


def authorize(settings: Settings, keys: KeySet, *, access_token: str, now: float) -> Principal:
    """One JWT check and one consistent read; raise InvalidToken on any doubt."""
    claims = tokens.verify_access_token(
        access_token,
        keys,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        max_lifetime=settings.access_token_ttl,
        leeway=settings.leeway,
        now=now,
    )
    session = models.get_session(claims.session_id)
    if session is None or not session.is_live(now):
        raise InvalidToken("session unknown, revoked or expired")
    if session.user_id != claims.user_id or session.role != claims.role:
        raise InvalidToken("token does not match its session")
    return Principal(user_id=session.user_id, session_id=session.id, role=session.role, email=session.email)


# --- refresh --------------------------------------------------------------------------


def rotate(settings: Settings, keys: KeySet, *, refresh_token: object, now: int) -> IssuedTokens:
    """Exchange a refresh token for a new pair; a superseded token past the grace window revokes the session."""
    try:
        presented, authentic = tokens.parse_refresh_token(refresh_token, keys), True
    except InvalidToken:
        # Its tag may come from a key rotated out of the key set since: a token whose digest
        # is the stored one is still the current token (so rotation signs nobody out), but
        # without the tag nothing else about it can be trusted, not even a reuse.
        presented, authentic = tokens.refresh_token_shape(refresh_token), False
    for _ in range(2):  # a lost race is re-read once
        session = models.get_session(presented.session_id)
        if session is None or not session.is_live(now):
            raise InvalidToken("session unknown, revoked or expired")
        if not authentic and presented.digest != session.session_token:
            raise InvalidToken("refresh token tag mismatch")
        if presented.generation == session.generation:
            if presented.digest != session.session_token:
                raise InvalidToken("refresh token does not match")  # tagged but never stored: not ours to trust
            successor = tokens.successor_of(keys, presented)
            expires = min(now + settings.idle_timeout, int(session.absolute_expires))
            if models.rotate_session(
                session, old_digest=presented.digest, new_digest=successor.digest, now=now, expires=expires
            ):
                metrics.add_metric(name="Rotations", unit="Count", value=1)
                return _issue(settings, keys, session, successor, now)
            continue
        if presented.generation > session.generation:
            raise InvalidToken("refresh token from the future")
        return _superseded(settings, keys, session, presented, now)
    raise RefreshConflict()


def _superseded(
    settings: Settings, keys: KeySet, session: Session, presented: tokens.RefreshToken, now: int
) -> IssuedTokens:
    within_grace = now - session.rotated_at <= settings.reuse_grace
    if within_grace and presented.generation == session.generation - 1:
        # Two tabs refreshing at once: hand back the successor the winner minted.
        successor = tokens.successor_of(keys, presented)
        if successor.digest == session.session_token:
            return _issue(settings, keys, session, successor, now)
        raise RefreshConflict()
    models.delete_session(session.id)
    metrics.add_metric(name="RefreshReuseDetected", unit="Count", value=1)
    logger.warning("refresh token reuse: session revoked", session_id=session.id, user_id=session.user_id)
    raise InvalidToken("refresh token reused")


# --- the signed-in user's own sessions and password --------------------------------------


def revoke_own_session(*, user_id: str, session_id: str) -> None:
    """Revoke one of the caller's sessions; another user's answers exactly like a missing one."""
    session = models.get_session(session_id)
    if session is None or session.user_id != user_id:
        raise SessionNotFound(session_id)
    models.delete_session(session_id)


def sign_out_everywhere(*, user_id: str, keep_session_id: str | None) -> int:
    """The user's own sign-out of every session, or of every one but `keep_session_id`."""
    revoked = revoke_all_sessions(user_id, keep_session_id=keep_session_id)
    metrics.add_metric(name="SignOuts", unit="Count", value=revoked)
    return revoked


def change_password(
    settings: Settings,
    passwords: Passwords,
    *,
    user_id: str,
    session_id: str,
    current_password: str,
    new_password: str,
    now: int,
) -> int:
    """Re-check the current password, store a new hash, revoke every other session (ASVS 7.4.3).

    A wrong current password counts as a failed sign-in of the email, so this route is no
    way around the lockout. Returns how many sessions were revoked.
    """
    user = models.get_user(user_id)
    if user is None or user.disabled:
        raise InvalidToken("user unknown or disabled")
    claim = models.get_claim(user.email)
    _take_attempt(settings, user.email, claim, has_user=True, now=now)
    if not passwords.verify(user.password_hash, current_password):
        raise InvalidCredentials()  # counted like a failed sign-in: no way around the lockout
    models.clear_failed_sign_ins(user.email)
    models.update_password_hash(user, passwords.hash(new_password))
    revoked = sign_out_everywhere(user_id=user_id, keep_session_id=session_id)
    logger.info("password changed", user_id=user_id, sessions_revoked=revoked)
    return revoked


# --- sign-out and the current user ------------------------------------------------------


def sign_out(*, session_id: str) -> None:
    """Revoke the session: its access tokens fail at the next authorizer call, its refresh token is dead."""
    models.delete_session(session_id)
    metrics.add_metric(name="SignOuts", unit="Count", value=1)


def current_user(*, user_id: str, session_id: str, now: int) -> tuple[UserView, int]:
    """The signed-in user and their session's expiry (epoch seconds)."""
    session = models.get_session(session_id)
    if session is None or not session.is_live(now) or session.user_id != user_id:
        raise InvalidToken("session unknown, revoked or expired")
    user = models.get_user(user_id)
    if user is None or user.disabled:
        raise InvalidToken("user unknown or disabled")
    return UserView.of(user), session.expires_epoch


# --- sweeper --------------------------------------------------------------------------


def sweep(
    *,
    now: int,
    time_left_ms: Callable[[], int],
    reserve_ms: int = 10_000,
    page_size: int = 100,
    lookback_days: int = 7,
    retry_delays: tuple[float, ...] = (0.1, 0.4, 1.6),
) -> SweepReport:
    """Delete expired sessions, reading only them, through the sharded expiry index.

    Each delete is conditional on expires <= now (BatchWriteItem cannot carry a
    condition), so a session refreshed after the index was read survives. Deletes that
    fail are retried with backoff; what is left, and every bucket not reached before
    `reserve_ms` of the Lambda's time remain, is picked up by the next run.
    """
    deleted = skipped = failed = buckets = failed_buckets = 0
    today = now // models.BUCKET_SECONDS
    for day in range(today - lookback_days, today + 1):
        for shard in range(models.EXPIRY_SHARDS):
            if time_left_ms() < reserve_ms:
                return SweepReport(deleted, skipped, failed, buckets, complete=False)
            buckets += 1
            try:
                pending = list(models.expired_session_ids(f"{day}#{shard:02d}", now, page_size))
            except ServiceUnavailable:
                failed_buckets += 1  # its sessions are still there for the next run
                continue
            for delay in (0.0, *retry_delays):
                if not pending:
                    break
                time.sleep(delay)
                retry = []
                for session_id in pending:
                    try:
                        if models.delete_if_expired(session_id, now):
                            deleted += 1
                        else:
                            skipped += 1
                    except ServiceUnavailable:
                        retry.append(session_id)
                pending = retry
            failed += len(pending)
    return SweepReport(deleted, skipped, failed, buckets, complete=failed == 0 and failed_buckets == 0)


# --- users (admin) ----------------------------------------------------------------------


def create_user(passwords: Passwords, *, email: str, password: str, name: str | None, role: str, now: int) -> UserView:
    """Create a user; EmailTaken if the email (case-insensitive) is already used."""
    email = normalize_email(email)
    if role not in UserRole.__members__:
        raise InvalidRequest(f"role must be one of {', '.join(UserRole.__members__)}")
    user = User(
        uuid.uuid4().hex,
        email=email,
        name=name or None,
        role=role,
        password_hash=passwords.hash(password),
        disabled=False,
        created_at=now,
    )
    models.create_user_with_claim(user)
    return UserView.of(user)


def find_user(email_or_id: str) -> User:
    if "@" in email_or_id:
        claim = models.get_claim(normalize_email(email_or_id))
        user = models.get_user(claim.user_id) if claim is not None and claim.user_id else None
    else:
        user = models.get_user(email_or_id)
    if user is None:
        raise UserNotFound(email_or_id)
    return user


def delete_user(email_or_id: str) -> int:
    """Delete a user and, synchronously, every session of theirs (the seed's cascade)."""
    user = find_user(email_or_id)
    models.delete_user_and_claim(user)
    return revoke_all_sessions(user.id)


def set_role(email_or_id: str, role: str) -> tuple[UserView, int]:
    """Change a user's role and revoke their sessions, which carry the old role (ASVS 7.4.2)."""
    if role not in UserRole.__members__:
        raise InvalidRequest(f"role must be one of {', '.join(UserRole.__members__)}")
    user = find_user(email_or_id)
    models.update_user(user, role=role)
    return UserView.of(user), revoke_all_sessions(user.id)


def set_disabled(email_or_id: str, disabled: bool) -> tuple[UserView, int]:
    """Disable (or enable) a user; disabling revokes every session at once (ASVS 7.4.2)."""
    user = find_user(email_or_id)
    models.update_user(user, disabled=disabled)
    return UserView.of(user), revoke_all_sessions(user.id) if disabled else 0


def list_users() -> list[User]:
    """Every user (an admin listing: a scan of the users table, claims left out)."""
    return sorted(models.all_users(), key=lambda u: u.email)


def user_id_of_removed_item(*, removed: bool, key: object) -> str | None:
    """The user whose item a users-table stream record removed; None for anything else
    (inserts, updates, and the email-claim items that share the table)."""
    if not removed or not isinstance(key, str) or not key or key.startswith(models.CLAIM_PREFIX):
        return None
    return key


def revoke_all_sessions(user_id: str, *, keep_session_id: str | None = None) -> int:
    """Delete every session of the user (but `keep_session_id`); how many were deleted."""
    doomed = [sid for sid in models.session_ids_of_user(user_id) if sid != keep_session_id]
    models.delete_sessions(doomed)
    return len(doomed)


def list_sessions(user_id: str, *, now: int) -> list[Session]:
    """The user's live sessions (expired rows TTL has not removed yet are left out)."""
    sessions = models.get_sessions(models.session_ids_of_user(user_id))
    return sorted((s for s in sessions if s.is_live(now)), key=lambda s: s.created_at)


def revoke_session(session_id: str) -> None:
    if models.get_session(session_id) is None:
        raise SessionNotFound(session_id)
    models.delete_session(session_id)
