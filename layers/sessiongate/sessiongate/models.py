"""PynamoDB models (the Auth.js/Prisma attribute names on the wire) and every DynamoDB call.

Table names and endpoints are read at import, deliberately: PynamoDB binds Meta when the
class is created, so tests set the environment before importing. Endpoints come from
botocore's standard variables (AWS_ENDPOINT_URL_DYNAMODB), so the same code runs against
AWS, moto and DynamoDB Local.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum

from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from sessiongate.config import DEFAULT_SESSIONS_TABLE, DEFAULT_USERS_TABLE
from sessiongate.errors import EmailTaken, ServiceUnavailable

# The sweeper finds expired sessions through "<expiry day>#<shard>" buckets; sharding
# spreads one day's sessions over this many partition keys so none of them is hot.
# Changing it strands sessions in the old buckets until TTL removes them.
EXPIRY_SHARDS = 16
BUCKET_SECONDS = 86_400
CONDITIONAL_FAILED = "ConditionalCheckFailedException"


class UserRole(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"


class _Meta:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    # The authorizer has 5 s in all: fail fast (and closed) rather than wait on a slow call.
    # DYNAMODB_TIMEOUT_SECONDS raises it for slow local backends (moto on a loaded machine).
    connect_timeout_seconds = 2
    read_timeout_seconds = int(os.environ.get("DYNAMODB_TIMEOUT_SECONDS") or 3)
    max_retry_attempts = 2


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def expiry_bucket(session_id: str, expires: int) -> str:
    shard = int(hashlib.sha256(session_id.encode()).hexdigest()[:8], 16) % EXPIRY_SHARDS
    return f"{expires // BUCKET_SECONDS}#{shard:02d}"


def is_conditional_failure(exc: PynamoDBException) -> bool:
    if isinstance(exc, TransactWriteError):
        return any(r is not None and r.code == "ConditionalCheckFailed" for r in exc.cancellation_reasons)
    # Not exc.cause_response_code: it assumes a response, and a timeout's cause carries None.
    response = getattr(exc.cause, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == CONDITIONAL_FAILED


@contextmanager
def backend_errors() -> Iterator[None]:
    """Turn a DynamoDB failure that is not a condition into ServiceUnavailable (503, retry)."""
    try:
        yield
    except PynamoDBException as exc:
        raise ServiceUnavailable() from exc


class ByUserIndex(GlobalSecondaryIndex["Session"]):
    class Meta:
        index_name = "byUser"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    created_at = NumberAttribute(range_key=True, attr_name="createdAt")


class ByExpiryIndex(GlobalSecondaryIndex["Session"]):
    class Meta:
        index_name = "byExpiry"
        projection = KeysOnlyProjection()

    expiry_bucket = UnicodeAttribute(hash_key=True, attr_name="expiryBucket")
    expires = TTLAttribute(range_key=True)


class Session(Model):
    """One signed-in device. Carries what the authorizer's context needs (one read, no join)."""

    class Meta(_Meta):
        table_name = os.environ.get("SESSIONS_TABLE") or DEFAULT_SESSIONS_TABLE

    id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(attr_name="userId")
    session_token = UnicodeAttribute(attr_name="sessionToken")
    generation = NumberAttribute(default=0)
    expires = TTLAttribute()
    absolute_expires = NumberAttribute(attr_name="absoluteExpires")
    created_at = NumberAttribute(attr_name="createdAt")
    rotated_at = NumberAttribute(attr_name="rotatedAt")
    expiry_bucket = UnicodeAttribute(attr_name="expiryBucket")
    role = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(attr_name="userAgent", null=True)
    source_ip = UnicodeAttribute(attr_name="sourceIp", null=True)

    by_user = ByUserIndex()
    by_expiry = ByExpiryIndex()

    @property
    def expires_epoch(self) -> int:
        return epoch(self.expires)

    def is_live(self, now: float) -> bool:
        # TTL deletion lags by days and moto never does it: every read checks expires itself.
        return self.expires_epoch > now and self.absolute_expires > now


class User(Model):
    class Meta(_Meta):
        table_name = os.environ.get("USERS_TABLE") or DEFAULT_USERS_TABLE

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    role = UnicodeAttribute(default=UserRole.USER.value)
    password_hash = UnicodeAttribute(attr_name="passwordHash")
    disabled = BooleanAttribute(default=False)
    created_at = NumberAttribute(attr_name="createdAt")


class EmailClaim(Model):
    """Item "email#<normalized email>" in the users table: makes emails unique (a
    transaction writes it with the user) and counts failed sign-ins per email, so an
    unknown email locks out exactly like a known one and 429 reveals nothing."""

    class Meta(_Meta):
        table_name = User.Meta.table_name

    id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(attr_name="userId", null=True)
    failed_sign_ins = NumberAttribute(attr_name="failedSignIns", default=0)
    last_failed_at = NumberAttribute(attr_name="lastFailedAt", null=True)
    # Only on claims without a user (counters for unknown emails), so TTL tidies them up.
    expires = TTLAttribute(null=True)


CLAIM_PREFIX = "email#"
# A user id no user has (ids are uuid4 hex): read in place of the user of an unknown email.
ABSENT_USER_ID = "absent-user"


def prepare_clients() -> None:
    """Create the models' botocore clients now (no network): a SnapStart snapshot keeps them."""
    for model in (Session, User):
        model._get_connection().connection.client  # noqa: B018 - the property builds the client


def claim_key(email: str) -> str:
    return f"{CLAIM_PREFIX}{email}"


# --- sessions -------------------------------------------------------------------------


# DynamoDB refuses (ValidationException) an empty partition key or one over 2048 bytes:
# such a key names no item, so it is answered as "not found" without a call.
MAX_KEY_BYTES = 2048


def _possible_key(key: str) -> bool:
    return 0 < len(key.encode()) <= MAX_KEY_BYTES


def get_session(session_id: str) -> Session | None:
    if not _possible_key(session_id):
        return None
    with backend_errors():
        try:
            return Session.get(session_id, consistent_read=True)
        except Session.DoesNotExist:
            return None


def get_sessions(session_ids: list[str]) -> list[Session]:
    """Sessions by id in batches of 100 (consistent reads; ids no longer there are skipped)."""
    if not session_ids:
        return []
    with backend_errors():
        return list(Session.batch_get(session_ids, consistent_read=True))


def put_new_session(session: Session) -> None:
    with backend_errors():
        session.save(condition=Session.id.does_not_exist())


def rotate_session(session: Session, *, old_digest: str, new_digest: str, now: int, expires: int) -> bool:
    """Move the session to its next generation if nobody else did; False when the condition failed.

    The condition names the current generation and token digest and requires the row to
    exist and be live, so a swept or revoked session is never recreated by the update.
    """
    generation = session.generation
    with backend_errors():
        try:
            session.update(
                actions=[
                    Session.generation.set(generation + 1),
                    Session.session_token.set(new_digest),
                    Session.rotated_at.set(now),
                    Session.expires.set(utc(expires)),
                    Session.expiry_bucket.set(expiry_bucket(session.id, expires)),
                ],
                condition=(Session.generation == generation)
                & (Session.session_token == old_digest)
                & (Session.expires > utc(now)),
            )
        except PynamoDBException as exc:
            if is_conditional_failure(exc):
                return False
            raise
    return True


def delete_session(session_id: str) -> None:
    with backend_errors():
        Session(session_id).delete()


def session_ids_of_user(user_id: str) -> list[str]:
    """The user's session ids, oldest first (the index is eventually consistent)."""
    if not _possible_key(user_id):
        return []
    with backend_errors():
        return [s.id for s in Session.by_user.query(user_id)]


def delete_sessions(session_ids: list[str]) -> None:
    # PynamoDB's batch writer sends 25 at a time and retries unprocessed items.
    with backend_errors(), Session.batch_write() as batch:
        for session_id in session_ids:
            batch.delete(Session(session_id))


def expired_session_ids(bucket: str, now: int, page_size: int) -> Iterator[str]:
    """Ids of sessions in one expiry bucket whose expires <= now, page by page (index is keys-only)."""
    with backend_errors():
        for item in Session.by_expiry.query(bucket, Session.expires <= utc(now), page_size=page_size):
            yield item.id


def delete_if_expired(session_id: str, now: int) -> bool:
    """Delete the session only if it is still expired; False if it was extended (or is gone)."""
    with backend_errors():
        try:
            Session(session_id).delete(condition=Session.expires <= utc(now))
        except PynamoDBException as exc:
            if is_conditional_failure(exc):
                return False
            raise
    return True


# --- users ----------------------------------------------------------------------------


def get_claim(email: str) -> EmailClaim | None:
    if not _possible_key(claim_key(email)):
        return None
    with backend_errors():
        try:
            return EmailClaim.get(claim_key(email), consistent_read=True)
        except EmailClaim.DoesNotExist:
            return None


def get_user(user_id: str) -> User | None:
    if not _possible_key(user_id):
        return None
    with backend_errors():
        try:
            return User.get(user_id, consistent_read=True)
        except User.DoesNotExist:
            return None


def reserve_sign_in_attempt(
    email: str, *, now: int, window: int, limit: int, has_user: bool, last_failed_at: int | None
) -> bool:
    """Count one sign-in attempt *before* its password is checked; False when the email is
    locked (`limit` attempts within `window` seconds of each other).

    Reserving first is what makes the lockout hold under concurrency: requests in flight
    together each need a slot, so a burst cannot try more passwords than the limit. A
    successful sign-in gives its slot back (clear_failed_sign_ins). Each step is conditional
    and atomic; `last_failed_at`, as the caller read it, picks the step likely to succeed
    first, so the usual cost is one write.
    """
    claim = EmailClaim(claim_key(email))
    owner = EmailClaim.user_id.exists() if has_user else EmailClaim.user_id.does_not_exist()
    tidy: list[Action] = [] if has_user else [EmailClaim.expires.set(utc(now + window))]
    within = (EmailClaim.last_failed_at > now - window) & (EmailClaim.failed_sign_ins < limit)
    restart = EmailClaim.last_failed_at.does_not_exist() | (EmailClaim.last_failed_at <= now - window)
    increment: list[Action] = [EmailClaim.failed_sign_ins.add(1), EmailClaim.last_failed_at.set(now)]
    first_of_window: list[Action] = [EmailClaim.failed_sign_ins.set(1), EmailClaim.last_failed_at.set(now)]
    attempts: list[tuple[list[Action], Condition]] = [(increment, owner & within), (first_of_window, owner & restart)]
    if last_failed_at is None or last_failed_at <= now - window:
        attempts.reverse()
    with backend_errors():
        for actions, condition in attempts:
            try:
                claim.update(actions=[*actions, *tidy], condition=condition)
                return True
            except PynamoDBException as exc:
                if not is_conditional_failure(exc):
                    raise
    # Neither step applied: the window is full, or the email changed hands meanwhile (a user
    # created or deleted), which the caller's next read sorts out; refuse either way.
    return False


def clear_failed_sign_ins(email: str) -> None:
    with backend_errors():
        try:
            EmailClaim(claim_key(email)).update(
                actions=[EmailClaim.failed_sign_ins.set(0), EmailClaim.last_failed_at.remove()],
                condition=EmailClaim.user_id.exists(),
            )
        except PynamoDBException as exc:
            if not is_conditional_failure(exc):
                raise


def update_password_hash(user: User, password_hash: str) -> None:
    with backend_errors():
        user.update(actions=[User.password_hash.set(password_hash)], condition=User.id.exists())


def create_user_with_claim(user: User) -> None:
    """Write the user and its email claim in one transaction: emails stay unique under races."""
    claim = EmailClaim(claim_key(user.email), user_id=user.id, failed_sign_ins=0)
    with backend_errors():
        try:
            with TransactWrite(connection=Connection(region=User.Meta.region)) as transaction:
                transaction.save(claim, condition=EmailClaim.user_id.does_not_exist())
                transaction.save(user, condition=User.id.does_not_exist())
        except TransactWriteError as exc:
            if is_conditional_failure(exc):
                raise EmailTaken(user.email) from exc
            raise


def delete_user_and_claim(user: User) -> None:
    with backend_errors(), TransactWrite(connection=Connection(region=User.Meta.region)) as transaction:
        transaction.delete(user)
        transaction.delete(EmailClaim(claim_key(user.email)), condition=EmailClaim.user_id == user.id)


def update_user(user: User, *, role: str | None = None, disabled: bool | None = None) -> None:
    actions: list[Action] = []
    if role is not None:
        actions.append(User.role.set(role))
    if disabled is not None:
        actions.append(User.disabled.set(disabled))
    with backend_errors():
        user.update(actions=actions, condition=User.id.exists())


def all_users() -> list[User]:
    # Email claims share the table; only user items have a password hash.
    with backend_errors():
        return list(User.scan(filter_condition=User.password_hash.exists()))
