"""sessiongate.passwords: Argon2id with OWASP parameters, verify that never raises, rehash detection."""

from __future__ import annotations

from typing import Any

import pytest

from sessiongate.errors import InvalidRequest
from sessiongate.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, Passwords, check_new_password

OWASP_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


@pytest.fixture(scope="module")
def stored(passwords: Passwords) -> str:
    return passwords.hash(PASSWORD)


def test_hash_is_argon2id_with_owasp_parameters(stored: str) -> None:
    # Given a password hashed with the defaults
    # Then the PHC string names Argon2id, version 19, 19 MiB, 2 passes, 1 lane
    assert stored.startswith(OWASP_PREFIX)


def test_hash_is_salted_and_hides_the_password(passwords: Passwords, stored: str) -> None:
    # Given the same password hashed twice
    again = passwords.hash(PASSWORD)

    # Then the hashes differ (random salt) and neither contains the password
    assert again != stored
    assert PASSWORD not in stored and PASSWORD not in again


def test_verify_accepts_the_right_password(passwords: Passwords, stored: str) -> None:
    # Given a stored hash
    # When the right password is checked, Then it verifies
    assert passwords.verify(stored, PASSWORD) is True


@pytest.mark.parametrize(
    "attempt", ["", "correct horse battery stapl", PASSWORD.upper(), PASSWORD + " ", " " + PASSWORD]
)
def test_verify_refuses_other_passwords(passwords: Passwords, stored: str, attempt: str) -> None:
    # Given a stored hash
    # When a different password is checked, Then it does not verify
    assert passwords.verify(stored, attempt) is False


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not-a-hash",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$garbage",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$!!!!",
        "$2b$12$KIXQJ5o4U7w9YbOa1dWjYeB1pX0S2bPaJm2cQk1ZxuG5dQm6kG1eW",
        "5f4dcc3b5aa765d61d8327deb882cf99",
        PASSWORD,
    ],
)
def test_verify_with_a_garbage_hash_is_false_not_an_exception(passwords: Passwords, garbage: str) -> None:
    # Given a stored value that is not an Argon2 hash (corrupt row, legacy format, plain text)
    # When a password is checked against it, Then the answer is False, never an exception
    assert passwords.verify(garbage, PASSWORD) is False


def test_needs_rehash_for_other_parameters(passwords: Passwords) -> None:
    # Given a hash made with weaker parameters (an older deployment)
    weak = Passwords(time_cost=1, memory_kib=8192, parallelism=1)
    old_hash = weak.hash(PASSWORD)

    # When the current hasher checks it
    # Then it verifies, and asks to be rehashed; the weak hasher is content with its own
    assert passwords.verify(old_hash, PASSWORD) is True
    assert passwords.needs_rehash(old_hash) is True
    assert weak.needs_rehash(old_hash) is False


def test_no_rehash_for_its_own_hash(passwords: Passwords, stored: str) -> None:
    # Given a hash made with the current parameters
    # When it is checked, Then no rehash is needed
    assert passwords.needs_rehash(stored) is False


def test_stronger_hasher_asks_to_rehash_the_default(stored: str) -> None:
    # Given a deployment that raised the time cost
    stronger = Passwords(time_cost=3)

    # When it checks a default hash, Then it asks to rehash
    assert stronger.needs_rehash(stored) is True


@pytest.mark.parametrize(
    "password", ["x" * (MIN_PASSWORD_LENGTH - 1), "", "1234567", "x" * (MAX_PASSWORD_LENGTH + 1), "x" * 100_000]
)
def test_check_new_password_refuses_bad_lengths(password: str) -> None:
    # Given a password shorter than 8 or longer than 1024 characters
    # When it is checked as a new password, Then it is an invalid request
    with pytest.raises(InvalidRequest):
        check_new_password(password)


@pytest.mark.parametrize("password", [None, 12345678, 1234567.8, b"bytes-password", ["p" * 8], {"p": "p" * 8}, True])
def test_check_new_password_refuses_non_strings(password: Any) -> None:
    # Given a value that is not a string
    # When it is checked as a new password, Then it is an invalid request (not a TypeError)
    with pytest.raises(InvalidRequest):
        check_new_password(password)


@pytest.mark.parametrize("password", ["x" * MIN_PASSWORD_LENGTH, "x" * MAX_PASSWORD_LENGTH, "pässwörd", "🔑" * 8])
def test_check_new_password_accepts_the_bounds(password: str) -> None:
    # Given a password of 8 to 1024 characters (Unicode counts as characters)
    # When it is checked, Then it passes
    check_new_password(password)


def test_limits_are_the_documented_ones() -> None:
    # Then the bounds are 8 and 1024 characters
    assert (MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH) == (8, 1024)


def test_hash_refuses_a_weak_new_password(passwords: Passwords) -> None:
    # Given a too-short password
    # When it is hashed (user creation), Then it is refused before any hashing
    with pytest.raises(InvalidRequest):
        passwords.hash("short")


def test_dummy_hash_is_a_valid_argon2id_hash(passwords: Passwords) -> None:
    # Given the dummy hash used for unknown emails
    dummy = passwords.dummy_hash

    # Then it is a current-parameter Argon2id hash (so verifying it costs a real verify)
    assert dummy.startswith(OWASP_PREFIX)
    assert passwords.needs_rehash(dummy) is False


@pytest.mark.parametrize("attempt", ["", "password", "12345678", "123456", "qwerty", "admin", "letmein", PASSWORD])
def test_dummy_hash_verifies_nothing_common(passwords: Passwords, attempt: str) -> None:
    # Given the dummy hash
    # When common passwords are checked against it, Then none verifies
    assert passwords.verify(passwords.dummy_hash, attempt) is False


def test_dummy_hash_is_random_per_instance(passwords: Passwords) -> None:
    # Given two cold starts
    # Then their dummy hashes differ (no fixed dummy password to guess)
    assert Passwords().dummy_hash != passwords.dummy_hash
