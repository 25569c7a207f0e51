"""sessiongate.tokens: HS256 access tokens (C05, C06) and HMAC-tagged refresh tokens.

Hostile access tokens are built by hand (base64url parts and an HMAC), so a test can
set any header or claim value, including ones PyJWT would refuse to encode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import jwt
import pytest

from sessiongate import tokens
from sessiongate.errors import InvalidToken
from sessiongate.keys import KeySet, SigningKey, parse_key_set
from tests.conftest import TEST_SECRET

ISSUER = "https://auth.example.test"
AUDIENCE = "orders-api"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, a frozen clock
TTL = 900
LEEWAY = 5
KID = "local"
SECRET = TEST_SECRET.encode()
OTHER_SECRET = b"another-signing-secret-that-is-long-enough-42"
KEYS = KeySet((SigningKey(KID, SECRET),))
MISSING = object()
SESSION_ID = "sEsSiOn_Id-0123456789abcdefghijklmnopqrstuv"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":"), allow_nan=True).encode()
    return b64url(raw)


def header(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"alg": "HS256", "typ": "at+jwt", "kid": KID}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not MISSING}


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "sid": "session-1",
        "role": "USER",
        "iat": NOW,
        "exp": NOW + TTL,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not MISSING}


def mac(signing_input: str, secret: bytes = SECRET, digest: Any = hashlib.sha256) -> str:
    return b64url(hmac.new(secret, signing_input.encode(), digest).digest())


def sign(payload: Any = MISSING, head: Any = MISSING, *, secret: bytes = SECRET, digest: Any = hashlib.sha256) -> str:
    """A compact JWS over any header and payload, HMAC-signed with `digest`."""
    head = header() if head is MISSING else head
    payload = claims() if payload is MISSING else payload
    signing_input = f"{part(head)}.{part(payload)}"
    return f"{signing_input}.{mac(signing_input, secret, digest)}"


def verify(token: Any, *, now: float = NOW + 1, keys: KeySet = KEYS, max_lifetime: int = TTL) -> tokens.AccessClaims:
    return tokens.verify_access_token(
        token, keys, issuer=ISSUER, audience=AUDIENCE, max_lifetime=max_lifetime, leeway=LEEWAY, now=now
    )


def issue(keys: KeySet = KEYS, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "user_id": "user-1",
        "session_id": "session-1",
        "role": "USER",
        "now": NOW,
        "expires_at": NOW + TTL,
    }
    args.update(overrides)
    return tokens.issue_access_token(keys, **args)


def refused(token: Any, **kwargs: Any) -> None:
    # pytest.raises lets any other exception (TypeError, OverflowError, ...) fail the test.
    with pytest.raises(InvalidToken):
        verify(token, **kwargs)


# --- access tokens: the good path ------------------------------------------------------------


def test_issued_token_round_trips() -> None:
    # Given an access token issued at NOW for 900 s
    token = issue()

    # When it is verified a second later
    result = verify(token)

    # Then its claims come back
    assert result == tokens.AccessClaims(
        user_id="user-1", session_id="session-1", role="USER", issued_at=NOW, expires_at=NOW + TTL
    )


def test_issued_token_header_pins_kid_type_and_algorithm() -> None:
    # Given an access token
    token = issue()

    # When its header is read
    head = jwt.get_unverified_header(token)

    # Then it names HS256, the at+jwt type and the signing key
    assert head == {"alg": "HS256", "typ": "at+jwt", "kid": KID}


def test_issued_token_is_readable_by_a_plain_jwt_library() -> None:
    # Given an access token
    token = issue(user_id="u-9", session_id="s-9", role="ADMIN")

    # When another service verifies it with PyJWT and the shared key (clock checks off: NOW is frozen)
    payload = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )

    # Then it carries exactly the documented claims, times as integers
    assert payload == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-9",
        "sid": "s-9",
        "role": "ADMIN",
        "iat": NOW,
        "exp": NOW + TTL,
    }
    assert all(type(payload[name]) is int for name in ("iat", "exp"))


def test_issued_token_is_signed_by_the_first_key_of_the_set() -> None:
    # Given a key set during a rotation
    keys = parse_key_set({"keys": [{"kid": "new", "secret": "n" * 40}, {"kid": "old", "secret": "o" * 40}]})

    # When a token is issued
    token = issue(keys)

    # Then it names and is signed by the first key
    assert jwt.get_unverified_header(token)["kid"] == "new"
    jwt.decode(
        token,
        b"n" * 40,
        algorithms=["HS256"],
        options={"verify_signature": True, "verify_aud": False, "verify_exp": False, "verify_iat": False},
    )
    assert verify(token, keys=keys).user_id == "user-1"


def test_hand_built_baseline_is_accepted() -> None:
    # Given the hand-built token every hostile case below departs from in one way
    # When it is verified, Then it is accepted (so each refusal below is for its own reason)
    assert verify(sign()).session_id == "session-1"


def test_token_signed_by_an_older_key_of_the_set_verifies() -> None:
    # Given a token signed by the old key, and a key set where a new key now signs
    old_token = sign(head=header(kid="old"), secret=b"o" * 40)
    keys = parse_key_set({"keys": [{"kid": "new", "secret": "n" * 40}, {"kid": "old", "secret": "o" * 40}]})

    # When it is verified, Then it is accepted
    assert verify(old_token, keys=keys).user_id == "user-1"


def test_kid_is_bound_to_its_own_secret() -> None:
    # Given a token naming the new key but signed with the old one
    keys = parse_key_set({"keys": [{"kid": "new", "secret": "n" * 40}, {"kid": "old", "secret": "o" * 40}]})
    token = sign(head=header(kid="new"), secret=b"o" * 40)

    # When it is verified, Then it is refused
    refused(token, keys=keys)


def test_token_of_a_retired_key_is_refused() -> None:
    # Given a token signed by a key that has since left the key set
    token = sign(head=header(kid="old"), secret=b"o" * 40)
    keys = parse_key_set({"kid": "new", "secret": "n" * 40})

    # When it is verified, Then it is refused
    refused(token, keys=keys)


# --- C05: the algorithm is pinned ---------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "hs256", "junk"])
def test_alg_none_is_refused(alg: str, signature: str) -> None:
    # Given valid claims under an alg "none" header, with no, a valid-looking or a junk signature
    signing_input = f"{part(header(alg=alg))}.{part(claims())}"
    sig = {"": "", "hs256": mac(signing_input), "junk": "c2lnbmF0dXJl"}[signature]

    # When it is verified, Then it is refused
    refused(f"{signing_input}.{sig}")


@pytest.mark.parametrize(("alg", "digest"), [("HS512", hashlib.sha512), ("HS384", hashlib.sha384)])
def test_other_hmac_algorithms_with_the_right_secret_are_refused(alg: str, digest: Any) -> None:
    # Given the same claims correctly signed with the right secret but another HMAC algorithm
    token = sign(head=header(alg=alg), digest=digest)

    # When it is verified, Then it is refused (the header does not choose the algorithm)
    refused(token)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA", "hs256", "HS256 ", "", None, ["HS256"], MISSING])
def test_any_other_alg_header_is_refused(alg: Any) -> None:
    # Given an HS256 signature under a header naming another or no algorithm
    token = sign(head=header(alg=alg))

    # When it is verified, Then it is refused
    refused(token)


def test_hs256_header_with_an_hs512_signature_is_refused() -> None:
    # Given an HS256 header but an HS512 MAC over it
    token = sign(digest=hashlib.sha512)

    # When it is verified, Then it is refused
    refused(token)


def test_hs256_with_another_secret_is_refused() -> None:
    # Given valid claims signed HS256 with a secret that is not in the key set
    token = sign(secret=OTHER_SECRET)

    # When it is verified, Then it is refused
    refused(token)


@pytest.mark.parametrize("typ", [MISSING, "JWT", "jwt", "", None, ["at+jwt"], "at+jwt "])
def test_wrong_typ_is_refused(typ: Any) -> None:
    # Given a correctly signed token whose typ is not at+jwt (e.g. an ID token from the same key)
    token = sign(head=header(typ=typ))

    # When it is verified, Then it is refused
    refused(token)


@pytest.mark.parametrize(
    "kid", ["unknown", "", "LOCAL", "local ", 1, None, MISSING, ["local"], {"kid": "local"}, "lócal"]
)
def test_unknown_or_malformed_kid_is_refused(kid: Any) -> None:
    # Given a correctly signed token whose kid does not exactly name a key of the set
    token = sign(head=header(kid=kid))

    # When it is verified, Then it is refused (never a TypeError)
    refused(token)


def test_unknown_critical_header_is_refused() -> None:
    # Given a correctly signed token declaring a critical extension nobody here understands
    token = sign(head=header(crit=["exp-policy"], **{"exp-policy": 1}))

    # When it is verified, Then it is refused (RFC 7515 4.1.11)
    refused(token)


def test_detached_payload_header_is_refused() -> None:
    # Given a header asking for an unencoded, detached payload (RFC 7797)
    signing_input = f"{part(header(b64=False, crit=['b64']))}."
    token = f"{signing_input}.{mac(signing_input)}"

    # When it is verified, Then it is refused
    refused(token)


# --- required claims, issuer, audience -------------------------------------------------------------


@pytest.mark.parametrize("name", tokens.REQUIRED_CLAIMS)
def test_missing_required_claim_is_refused(name: str) -> None:
    # Given a correctly signed token without one required claim
    token = sign(claims(**{name: MISSING}))

    # When it is verified, Then it is refused
    refused(token)


@pytest.mark.parametrize("name", tokens.REQUIRED_CLAIMS)
def test_null_required_claim_is_refused(name: str) -> None:
    # Given a correctly signed token where one required claim is null
    token = sign(claims(**{name: None}))

    # When it is verified, Then it is refused
    refused(token)


def test_required_claims_are_the_documented_ones() -> None:
    # Given the design's claim list, Then the verifier requires all of them
    assert set(tokens.REQUIRED_CLAIMS) == {"iss", "aud", "sub", "sid", "role", "iat", "exp"}


@pytest.mark.parametrize(
    "iss", ["https://evil.example", ISSUER[:-1], ISSUER + "x", ISSUER.upper(), "", [ISSUER], {"iss": ISSUER}, 1]
)
def test_wrong_issuer_is_refused(iss: Any) -> None:
    # Given a correctly signed token from another issuer (or a substring, list or non-string of ours)
    token = sign(claims(iss=iss))

    # When it is verified, Then it is refused
    refused(token)


@pytest.mark.parametrize(
    "aud", ["billing-api", AUDIENCE[:-1], AUDIENCE + "s", "", ["billing-api"], [], ["billing-api", "x"], {"a": 1}, 1]
)
def test_wrong_audience_is_refused(aud: Any) -> None:
    # Given a correctly signed token for another audience (string or list form)
    token = sign(claims(aud=aud))

    # When it is verified, Then it is refused
    refused(token)


@pytest.mark.parametrize("aud", [[AUDIENCE], ["billing-api", AUDIENCE], [AUDIENCE, "billing-api"]])
def test_audience_list_containing_ours_is_accepted(aud: list[str]) -> None:
    # Given a token for several audiences, ours among them (RFC 7519 4.1.3)
    token = sign(claims(aud=aud))

    # When it is verified, Then it is accepted
    assert verify(token).user_id == "user-1"


@pytest.mark.parametrize("name", ["sub", "sid", "role"])
@pytest.mark.parametrize("value", [1, 0, True, [], ["user-1"], {}, {"id": "user-1"}, ""])
def test_non_string_or_empty_identity_claims_are_refused(name: str, value: Any) -> None:
    # Given a correctly signed token whose sub, sid or role is not a non-empty string
    token = sign(claims(**{name: value}))

    # When it is verified, Then it is refused
    refused(token)


# --- C06: time claims --------------------------------------------------------------------------------


def test_exp_equal_to_now_is_refused() -> None:
    # Given a clock frozen exactly at the token's exp
    token = issue()

    # When it is verified, Then it is refused (RFC 7519: now must be before exp)
    refused(token, now=NOW + TTL)


def test_half_a_second_before_exp_is_accepted() -> None:
    # Given a clock frozen half a second before exp
    token = issue()

    # When it is verified, Then it is accepted
    assert verify(token, now=NOW + TTL - 0.5).expires_at == NOW + TTL


def test_fractional_exp_half_a_second_ahead_is_accepted() -> None:
    # Given a token whose exp is now + 0.5
    token = sign(claims(iat=NOW, exp=NOW + 0.5))

    # When it is verified at now, Then it is accepted, and refused once exp has passed
    assert verify(token, now=NOW).expires_at == NOW + 0.5
    refused(token, now=NOW + 0.5)


def test_exp_after_expiry_is_refused_without_leeway() -> None:
    # Given a clock one second past exp (within what the iat leeway would forgive)
    token = issue()

    # When it is verified, Then it is refused: the leeway never extends exp
    refused(token, now=NOW + TTL + 1)


@pytest.mark.parametrize(
    "exp",
    [
        [1],
        [NOW + TTL],
        {},
        {"exp": NOW + TTL},
        None,
        "123",
        str(NOW + TTL),
        True,
        False,
        float("nan"),
        float("inf"),
        float("-inf"),
    ],
)
def test_non_numeric_exp_is_refused_without_a_type_error(exp: Any) -> None:
    # Given a correctly signed token whose exp is not a finite number
    token = sign(claims(exp=exp))

    # When it is verified, Then it is refused with InvalidToken, never a TypeError
    refused(token)


def test_boolean_exp_is_refused_even_where_its_number_would_pass() -> None:
    # Given a clock at 0.5 s, where exp = 1 would be valid, and a token whose exp is true (1 in Python)
    control = sign(claims(iat=0, exp=1))
    boolean = sign(claims(iat=0, exp=True))

    # When both are verified, Then only the numeric one is accepted
    assert verify(control, now=0.5).expires_at == 1
    refused(boolean, now=0.5)


@pytest.mark.parametrize("iat", [[1], {}, "123", True, float("nan"), float("-inf"), float("inf")])
def test_non_numeric_iat_is_refused_without_a_type_error(iat: Any) -> None:
    # Given a correctly signed token whose iat is not a finite number
    token = sign(claims(iat=iat))

    # When it is verified, Then it is refused
    refused(token)


@pytest.mark.parametrize("exp", [10**50, 10**300, 1e308, 2**63, 2**64 + 1])
def test_huge_exp_is_refused_without_overflow(exp: Any) -> None:
    # Given a correctly signed token that would live practically forever
    token = sign(claims(exp=exp))

    # When it is verified, Then it is refused for its lifetime, without an OverflowError
    refused(token)


def test_huge_negative_iat_cannot_stretch_the_lifetime() -> None:
    # Given a token that is not expired but claims to have been issued long ago
    token = sign(claims(iat=-(10**50)))

    # When it is verified, Then it is refused (exp - iat exceeds the lifetime)
    refused(token)


def test_lifetime_longer_than_configured_is_refused() -> None:
    # Given a correctly signed token one second longer than the configured lifetime
    token = sign(claims(iat=NOW, exp=NOW + TTL + 1))

    # When it is verified, Then it is refused even though its signature is good
    refused(token)


def test_lifetime_equal_to_configured_is_accepted() -> None:
    # Given a token of exactly the configured lifetime
    token = sign(claims(iat=NOW, exp=NOW + TTL))

    # When it is verified, Then it is accepted
    assert verify(token).issued_at == NOW


def test_exp_before_iat_is_refused() -> None:
    # Given a token whose exp precedes its iat (both within the leeway of now)
    token = sign(claims(iat=NOW + 4, exp=NOW + 2))

    # When it is verified at now, Then it is refused
    refused(token, now=NOW)


@pytest.mark.parametrize("ahead", [LEEWAY + 1, 3600, 10**50])
def test_iat_in_the_future_beyond_leeway_is_refused(ahead: int) -> None:
    # Given a token issued further in the future than the clock-skew leeway
    token = sign(claims(iat=NOW + ahead, exp=NOW + ahead + 60))

    # When it is verified at now, Then it is refused
    refused(token, now=NOW)


@pytest.mark.parametrize("ahead", [1, LEEWAY])
def test_iat_in_the_future_within_leeway_is_accepted(ahead: int) -> None:
    # Given a token from a function whose clock runs a few seconds ahead
    token = sign(claims(iat=NOW + ahead, exp=NOW + ahead + 60))

    # When it is verified at now, Then it is accepted
    assert verify(token, now=NOW).issued_at == NOW + ahead


def test_nbf_beyond_leeway_is_refused_and_within_is_accepted() -> None:
    # Given two tokens that are not valid before a moment ahead of now
    later = sign(claims(nbf=NOW + LEEWAY + 1))
    soon = sign(claims(nbf=NOW + LEEWAY))

    # When they are verified at now, Then the one beyond the leeway is refused
    refused(later, now=NOW)
    assert verify(soon, now=NOW).user_id == "user-1"


@pytest.mark.parametrize("nbf", ["soon", [1], {}, True, float("nan")])
def test_non_numeric_nbf_is_refused(nbf: Any) -> None:
    # Given a correctly signed token with a malformed nbf
    token = sign(claims(nbf=nbf))

    # When it is verified, Then it is refused
    refused(token)


def test_verification_uses_the_given_clock_not_the_system_clock() -> None:
    # Given a token that expired long before the machine's real clock (2026-01-01 + 15 min)
    token = issue()

    # When it is verified with the frozen clock, Then it is accepted; a year later it is not
    assert verify(token, now=NOW + 10).user_id == "user-1"
    refused(token, now=NOW + 365 * 86_400)


# --- tampering and malformed input --------------------------------------------------------------------


def _flip(segment: str, index: int) -> str:
    # Swap one base64url character for another; a non-final position always changes the bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    replacement = alphabet[(alphabet.index(segment[index]) + 1) % 64]
    return segment[:index] + replacement + segment[index + 1 :]


@pytest.mark.parametrize("segment", [0, 1, 2])
@pytest.mark.parametrize("where", ["start", "middle"])
def test_tampered_bytes_are_refused(segment: int, where: str) -> None:
    # Given a valid token with one base64url character changed in its header, payload or signature
    parts = issue().split(".")
    index = 0 if where == "start" else len(parts[segment]) // 2
    parts[segment] = _flip(parts[segment], index)

    # When it is verified, Then it is refused
    refused(".".join(parts))


def test_payload_swapped_under_a_valid_signature_is_refused() -> None:
    # Given a USER token whose payload is replaced by an ADMIN one, keeping the header and signature
    head, _, signature = issue().split(".")
    token = f"{head}.{part(claims(role='ADMIN'))}.{signature}"

    # When it is verified, Then it is refused
    refused(token)


def test_header_swapped_under_a_valid_signature_is_refused() -> None:
    # Given a token whose header is re-encoded with the same fields in another order
    _, payload, signature = issue().split(".")
    token = f"{part({'typ': 'at+jwt', 'kid': KID, 'alg': 'HS256'})}.{payload}.{signature}"

    # When it is verified, Then it is refused (the signature covers the exact bytes)
    refused(token)


def test_signature_of_another_token_is_refused() -> None:
    # Given two valid tokens, and the first's header and payload with the second's signature
    first, second = issue(user_id="alice").split("."), issue(user_id="bob").split(".")

    # When the spliced token is verified, Then it is refused
    refused(f"{first[0]}.{first[1]}.{second[2]}")


def _malformed() -> dict[str, str]:
    token = issue()
    head, payload, signature = token.split(".")
    return {
        "extra part": f"{token}.{signature}",
        "trailing dot": f"{token}.",
        "leading dot": f".{token}",
        "four dots": f"{head}.{payload}..{signature}",
        "two parts": f"{head}.{payload}",
        "one part": head,
        "empty": "",
        "dots only": "..",
        "empty signature": f"{head}.{payload}.",
        "empty payload": f"{head}..{signature}",
        "leading space": f" {token}",
        "trailing space": f"{token} ",
        "trailing newline": f"{token}\n",
        "trailing crlf": f"{token}\r\n",
        "inner space": f"{head}. {payload}.{signature}",
        "tab in signature": f"{head}.{payload}.{signature[:5]}\t{signature[5:]}",
        "non-ascii suffix": f"{token}é",
        "non-ascii in payload": f"{head}.{payload[:4]}ü{payload[4:]}.{signature}",
        "emoji signature": f"{head}.{payload}.🔑",
        "bad base64 header": f"!!!!.{payload}.{signature}",
        "bad base64 payload": f"{head}.*{payload[1:]}.{signature}",
        "bad base64 signature": f"{head}.{payload}.{signature[:-2]}$$",
        "standard base64 alphabet": f"{head}.{payload}.{signature}+/",
        "impossible length": f"{head}.{payload}.{signature}A",
        "over-padded": f"{head}.{payload}.{signature}===",
        "header not json": f"{b64url(b'not json')}.{payload}.{signature}",
        "header json array": f"{part(['HS256'])}.{payload}.{signature}",
        "header json string": f"{part('HS256')}.{payload}.{signature}",
        "nested header": f"{b64url(b'[' * 2000 + b']' * 2000)}.{payload}.{signature}",
        "bearer prefix kept": f"Bearer {token}",
        "null byte": f"{token}\x00",
    }


MALFORMED = _malformed()


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_token_is_refused(name: str) -> None:
    # Given a valid token damaged in structure, whitespace, characters or encoding
    # When it is verified, Then it is refused with InvalidToken and nothing else
    refused(MALFORMED[name])


def test_correctly_signed_but_oversized_token_is_refused() -> None:
    # Given a correctly signed token padded with a 100 kB claim
    token = sign(claims(pad="x" * 100_000))
    assert len(token) > 100_000

    # When it is verified, Then it is refused before any parsing work
    refused(token)


def test_correctly_signed_non_object_payload_is_refused() -> None:
    # Given correctly signed payloads that are JSON but not a claims object
    for payload in ([claims()], "claims", 42, None):
        token = sign(payload)

        # When each is verified, Then it is refused
        refused(token)


@pytest.mark.parametrize("token", [None, 123, b"a.b.c", ["a", "b", "c"], {"token": "x"}, 1.5])
def test_non_string_token_is_refused(token: Any) -> None:
    # Given something that is not a string where the token should be
    # When it is verified, Then it is refused
    refused(token)


def test_bytes_of_a_valid_token_are_refused() -> None:
    # Given the bytes of an otherwise valid token (the verifier takes only str)
    # When they are verified, Then they are refused
    refused(issue().encode())


# --- refresh tokens ------------------------------------------------------------------------------------


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_new_refresh_token_shape() -> None:
    # Given a new session
    # When its first refresh token is made
    token = tokens.new_refresh_token(KEYS, SESSION_ID)

    # Then it is rt1.<session>.<generation 0>.<nonce>.<tag> with >= 128 bits of nonce
    parts = token.value.split(".")
    assert len(parts) == 5
    assert parts[0] == "rt1"
    assert parts[1] == SESSION_ID == token.session_id
    assert parts[2] == "0" and token.generation == 0
    assert len(b64url_decode(parts[3])) * 8 >= 128
    assert len(b64url_decode(parts[4])) == 32
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", p) for p in parts)


def test_new_refresh_tokens_are_random() -> None:
    # Given one session
    # When two first refresh tokens are made for it
    a, b = tokens.new_refresh_token(KEYS, SESSION_ID), tokens.new_refresh_token(KEYS, SESSION_ID)

    # Then their nonces, tags and values differ
    assert a.value != b.value
    assert a.value.split(".")[3] != b.value.split(".")[3]


def test_refresh_token_parses_its_own() -> None:
    # Given a refresh token the server made
    token = tokens.new_refresh_token(KEYS, SESSION_ID)

    # When it is parsed
    parsed = tokens.parse_refresh_token(token.value, KEYS)

    # Then it is the same token, session and generation
    assert parsed == token


def _replace(value: str, index: int, new: str) -> str:
    parts = value.split(".")
    parts[index] = new
    return ".".join(parts)


def _forgeries() -> dict[str, str]:
    value = tokens.new_refresh_token(KEYS, SESSION_ID).value
    other_keys = KeySet((SigningKey(KID, OTHER_SECRET),))
    parts = value.split(".")
    same_shape_by_other_key = tokens.new_refresh_token(other_keys, SESSION_ID).value
    return {
        "random tag": _replace(value, 4, b64url(bytes(32))),
        "tag of another key": _replace(value, 4, same_shape_by_other_key.split(".")[4]),
        "token of another key": same_shape_by_other_key,
        "empty tag": _replace(value, 4, ""),
        "truncated tag": _replace(value, 4, parts[4][:-1]),
        "prefix rt2": _replace(value, 0, "rt2"),
        "prefix RT1": _replace(value, 0, "RT1"),
        "prefix empty": _replace(value, 0, ""),
        "no prefix": value.split(".", 1)[1],
        "tampered session id": _replace(value, 1, _flip(parts[1], 3)),
        "other session id": _replace(value, 1, "A" * 43),
        "generation 1": _replace(value, 2, "1"),
        "generation -0": _replace(value, 2, "-0"),
        "generation +0": _replace(value, 2, "+0"),
        "generation huge": _replace(value, 2, "9" * 30),
        "generation empty": _replace(value, 2, ""),
        "tampered nonce": _replace(value, 3, _flip(parts[3], 3)),
        "short nonce": _replace(value, 3, "abc"),
        "extra part": f"{value}.x",
        "missing part": value.rsplit(".", 1)[0],
        "trailing space": f"{value} ",
        "trailing newline": f"{value}\n",
        "empty": "",
        "very long": value + "A" * 10_000,
        "access token": issue(),
        "access token of the session": issue(session_id=SESSION_ID),
    }


FORGERIES = _forgeries()


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forged_or_malformed_refresh_token_is_refused(name: str) -> None:
    # Given a refresh token the server did not make (forged, tampered, truncated or of another kind)
    # When it is parsed, Then it is refused with InvalidToken and nothing else
    with pytest.raises(InvalidToken):
        tokens.parse_refresh_token(FORGERIES[name], KEYS)


@pytest.mark.parametrize("value", [None, 123, b"rt1.a.0.b.c", ["rt1"], {"refreshToken": "x"}])
def test_non_string_refresh_token_is_refused(value: Any) -> None:
    # Given a value that is not a string
    # When it is parsed, Then it is refused
    with pytest.raises(InvalidToken):
        tokens.parse_refresh_token(value, KEYS)


@pytest.mark.parametrize("tag", ["é", "ä" * 43, "🔑"])
def test_non_ascii_refresh_tag_is_refused(tag: str) -> None:
    # Given a well-formed refresh token whose tag holds non-ASCII characters
    value = _replace(tokens.new_refresh_token(KEYS, SESSION_ID).value, 4, tag)

    # When it is parsed, Then it is refused with InvalidToken
    with pytest.raises(InvalidToken):
        tokens.parse_refresh_token(value, KEYS)


@pytest.mark.parametrize("generation", ["00", "000000000", "0\n"])
def test_non_canonical_generation_is_refused(generation: str) -> None:
    # Given a genuine generation-0 refresh token rewritten with another spelling of 0
    value = _replace(tokens.new_refresh_token(KEYS, SESSION_ID).value, 2, generation)

    # When it is parsed, Then it is refused: only the exact string the server issued is valid
    with pytest.raises(InvalidToken):
        tokens.parse_refresh_token(value, KEYS)


def test_successor_is_deterministic_and_next_generation() -> None:
    # Given a refresh token
    first = tokens.new_refresh_token(KEYS, SESSION_ID)

    # When its successor is derived twice
    a, b = tokens.successor_of(KEYS, first), tokens.successor_of(KEYS, first)

    # Then both are the same token, of the same session, one generation later, unlike the predecessor
    assert a == b
    assert a.session_id == SESSION_ID
    assert a.generation == first.generation + 1 == 1
    assert a.value != first.value
    assert a.value.split(".")[2] == "1"
    assert tokens.parse_refresh_token(a.value, KEYS) == a


def test_successor_chain_keeps_going() -> None:
    # Given a token rotated three times
    chain = [tokens.new_refresh_token(KEYS, SESSION_ID)]
    for _ in range(3):
        chain.append(tokens.successor_of(KEYS, chain[-1]))

    # Then generations count up, every token differs and each parses
    assert [t.generation for t in chain] == [0, 1, 2, 3]
    assert len({t.value for t in chain}) == 4
    assert all(tokens.parse_refresh_token(t.value, KEYS) == t for t in chain)


def test_successors_of_different_tokens_differ() -> None:
    # Given two first tokens of one session (two sign-ins would have two sessions; this is the worst case)
    a, b = tokens.new_refresh_token(KEYS, SESSION_ID), tokens.new_refresh_token(KEYS, SESSION_ID)

    # When each is rotated, Then the successors differ
    assert tokens.successor_of(KEYS, a).value != tokens.successor_of(KEYS, b).value


def test_successor_is_not_computable_without_the_key() -> None:
    # Given a token and a key set with another secret
    token = tokens.new_refresh_token(KEYS, SESSION_ID)
    other = KeySet((SigningKey(KID, OTHER_SECRET),))

    # When the successor is derived under each, Then they differ and the foreign one is refused
    foreign = tokens.successor_of(other, token)
    assert foreign.value != tokens.successor_of(KEYS, token).value
    with pytest.raises(InvalidToken):
        tokens.parse_refresh_token(foreign.value, KEYS)


def test_refresh_token_of_an_older_key_still_parses_after_rotation() -> None:
    # Given a refresh token made while "old" signed, and then a rotation that puts "new" first
    old_keys = parse_key_set({"kid": "old", "secret": "o" * 40})
    rotated = parse_key_set({"keys": [{"kid": "new", "secret": "n" * 40}, {"kid": "old", "secret": "o" * 40}]})
    token = tokens.new_refresh_token(old_keys, SESSION_ID)

    # When it is parsed with the rotated key set
    parsed = tokens.parse_refresh_token(token.value, rotated)

    # Then it is accepted, and its successor is minted by the new key and parses too
    assert parsed == token
    successor = tokens.successor_of(rotated, parsed)
    assert tokens.parse_refresh_token(successor.value, rotated) == successor
    with pytest.raises(InvalidToken):
        tokens.parse_refresh_token(successor.value, old_keys)


def test_refresh_tag_does_not_use_the_signing_key_itself() -> None:
    # Given a token whose tag is an HMAC made with the raw signing secret instead of a subkey
    token = tokens.new_refresh_token(KEYS, SESSION_ID)
    _, session_id, generation, nonce, _ = token.value.split(".")
    raw_tag = b64url(hmac.new(SECRET, f"{session_id}.{generation}.{nonce}".encode(), hashlib.sha256).digest())

    # When it is parsed, Then it is refused: the signing key tags nothing but access tokens
    with pytest.raises(InvalidToken):
        tokens.parse_refresh_token(_replace(token.value, 4, raw_tag), KEYS)


def test_token_digest_is_sha256_hex_and_hides_the_token() -> None:
    # Given a refresh token
    token = tokens.new_refresh_token(KEYS, SESSION_ID)

    # When its digest is taken
    digest = tokens.token_digest(token.value)

    # Then it is SHA-256 in hex, the same as the token's property, and holds no part of the token
    assert digest == hashlib.sha256(token.value.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert token.digest == digest
    assert token.value not in digest
    _, session_id, _, nonce, tag = token.value.split(".")
    assert all(p not in digest for p in (session_id, nonce, tag))
    assert tokens.token_digest(tokens.successor_of(KEYS, token).value) != digest


def test_session_ids_never_begin_with_a_dash(monkeypatch) -> None:
    # Given the random source drawing an id that begins with "-" (1 in 64 do), which the admin
    # CLI's `revoke-session ID` would read as an option
    from sessiongate import sessions

    draws = iter(["-" + "a" * 42, "b" * 43])
    monkeypatch.setattr(sessions.secrets, "token_urlsafe", lambda _n: next(draws))
    # When a session id is made, Then that draw is discarded
    assert sessions.new_session_id() == "b" * 43
