"""A corpus of hostile access tokens and Authorization headers, each through the real authorizer handler.

Every refused case must end in exactly Exception("Unauthorized") reached through a domain
refusal (not through the handler's catch-all, which would be a bug hidden by failing
closed), never an Allow, never another exception. The "must Allow" list pins the edges
that are valid on purpose. The clock of the authorizer is frozen at NOW for every case.

Decisions read from the code (tokens.verify_access_token) and pinned here:
- typ is compared exactly with "at+jwt": "AT+JWT", "JWT", a missing typ and RFC 9068's
  long form "application/at+jwt" are all refused. That is stricter than RFC 9068 §4
  (which also accepts "application/at+jwt", case-insensitively); sessiongate is the only
  issuer and always writes "at+jwt", so it only ever refuses tokens it did not make.
- exp is strict (dead at exp); iat and nbf may be up to TOKEN_LEEWAY_SECONDS (5) ahead.
- NumericDates may be floats (RFC 7519 §2); bool, str, list, object, null, NaN and ±inf are refused.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from functions.authorizer import app as authorizer
from functions.rotate import app as rotate
from functions.sign_out import app as sign_out
from functions.sweeper import app as sweeper
from sessiongate import admin, models, sessions
from sessiongate.sessions import IssuedTokens, UserView
from tests.helpers import FakeContext, load_event, proxy_event, response_json
from tests.integration.conftest import DEMO_PASSWORD, Tables, raw_session, sign_in_as
from tests.security.support import (
    DROP,
    OTHER_SECRET,
    TALLY,
    Outcome,
    authorize_header,
    b64url,
    build_jwt,
    fresh_tables,
    good_header,
    hs_sign,
    segment,
    spying_on_failures,
    unverified_claims,
    with_claims,
)

LEEWAY = 5


@dataclass
class World:
    """A signed-in user A (`issued`), the frozen clock, and the means to change the world."""

    now: int
    user: UserView
    issued: IssuedTokens
    tables: Tables
    passwords: Any
    settings: Any
    keys: Any

    @property
    def token(self) -> str:
        return self.issued.access_token

    @property
    def claims(self) -> dict[str, Any]:
        return unverified_claims(self.token)

    def parts(self) -> list[str]:
        return self.token.split(".")

    def signed(self, header: Any = None, **claims: Any) -> str:
        """Bearer + a correctly signed token: A's claims with `claims` changed (DROP removes one)."""
        return bearer(build_jwt(good_header() if header is None else header, with_claims(self.claims, **claims)))

    def other_user_session(self) -> tuple[UserView, IssuedTokens]:
        email = "bob@example.com"
        bob = sessions.create_user(
            self.passwords, email=email, password=DEMO_PASSWORD, name="Bob", role="USER", now=self.now
        )
        bobs = sessions.sign_in(
            self.settings,
            self.keys,
            self.passwords,
            email=email,
            password=DEMO_PASSWORD,
            user_agent=None,
            source_ip=None,
            now=self.now,
        )
        return bob, bobs

    def set_row(self, **numbers: int) -> None:
        assignments = ", ".join(f"#{name} = :{name}" for name in numbers)
        self.tables.client.update_item(
            TableName=self.tables.sessions,
            Key={"id": {"S": self.issued.session_id}},
            UpdateExpression=f"SET {assignments}",
            ExpressionAttributeNames={f"#{name}": name for name in numbers},
            ExpressionAttributeValues={f":{name}": {"N": str(value)} for name, value in numbers.items()},
        )


def bearer(token: str) -> str:
    return f"Bearer {token}"


def replace_segment(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def flip_signature_bit(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{b64url(bytes(raw))}"


def non_canonical_last_char(token: str) -> str:
    """The same 32 signature bytes, spelled with different (ignored) trailing bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    head, payload, signature = token.split(".")
    index = alphabet.index(signature[-1])
    twin = alphabet[(index & ~0b11) | ((index + 1) & 0b11)]
    return f"{head}.{payload}.{signature[:-1]}{twin}"


def nested_json(depth: int) -> str:
    return '{"iss":"sessiongate","deep":' + "[" * depth + "]" * depth + "}"


def claims_json_with(world: World, raw_member: str, drop: str) -> str:
    """A's claims as JSON text with one member replaced by raw text (e.g. `"exp":1e400`)."""
    text = json.dumps(with_claims(world.claims, **{drop: DROP}), separators=(",", ":"))
    return text[:-1] + "," + raw_member + "}"


def expire_row(world: World, at: int) -> None:
    world.tables.client.update_item(
        TableName=world.tables.sessions,
        Key={"id": {"S": world.issued.session_id}},
        UpdateExpression="SET expires = :e, expiryBucket = :b",
        ExpressionAttributeValues={
            ":e": {"N": str(at)},
            ":b": {"S": models.expiry_bucket(world.issued.session_id, at)},
        },
    )


# --- world-changing cases ---------------------------------------------------------------


def deleted_user(w: World) -> str:
    code = admin.main(["delete-user", w.user.id])
    assert code == 0 and raw_session(w.tables, w.issued.session_id) is None
    return bearer(w.token)


def signed_out(w: World) -> str:
    context = {"principalId": w.user.id, "userId": w.user.id, "sessionId": w.issued.session_id, "role": "USER"}
    response = sign_out.lambda_handler(proxy_event("sign_out", authorizer=context), FakeContext())
    assert response["statusCode"] == 204
    return bearer(w.token)


def row_deleted(w: World) -> str:
    w.tables.client.delete_item(TableName=w.tables.sessions, Key={"id": {"S": w.issued.session_id}})
    return bearer(w.token)


def swept(w: World) -> str:
    expire_row(w, w.now - 100)
    report = sweeper.lambda_handler(load_event("scheduled"), FakeContext())
    assert report["deleted"] >= 1 and raw_session(w.tables, w.issued.session_id) is None
    return bearer(w.token)


def expired_row_still_present(w: World) -> str:
    expire_row(w, w.now - 1)  # C08: TTL has not removed it, moto never does
    return bearer(w.token)


def absolute_expiry_passed(w: World) -> str:
    w.set_row(absoluteExpires=w.now - 1)
    return bearer(w.token)


def sid_of_b_sub_of_a(w: World) -> str:
    _, bobs = w.other_user_session()
    return w.signed(sid=bobs.session_id)


def sub_of_b_sid_of_a(w: World) -> str:
    bob, _ = w.other_user_session()
    return w.signed(sub=bob.id)


def b_token_after_b_deleted_but_a_alive(w: World) -> str:
    bob, bobs = w.other_user_session()
    assert admin.main(["delete-user", bob.id]) == 0
    return bearer(bobs.access_token)


def rotated_access_token(w: World) -> str:
    response = rotate.lambda_handler(
        proxy_event("refresh", body={"refreshToken": w.issued.refresh_token}), FakeContext()
    )
    assert response["statusCode"] == 200
    return bearer(response_json(response)["accessToken"])


# --- the corpus -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[World], Any]
    bug: str | None = None  # a known product bug: the case is xfail(strict=True)
    changes_world: bool = False  # deletes, signs out, rotates: runs on a world of its own


def _none_header(alg: str) -> dict[str, Any]:
    return good_header(alg=alg)


REFUSED: list[Case] = [
    # algorithms (C05)
    Case("alg-none-empty-sig", lambda w: bearer(build_jwt(_none_header("none"), w.claims, signature=""))),
    Case("alg-none-with-sig", lambda w: bearer(build_jwt(_none_header("none"), w.claims, signature=w.parts()[2]))),
    Case("alg-None-empty-sig", lambda w: bearer(build_jwt(_none_header("None"), w.claims, signature=""))),
    Case("alg-None-with-sig", lambda w: bearer(build_jwt(_none_header("None"), w.claims, signature=w.parts()[2]))),
    Case("alg-NONE-empty-sig", lambda w: bearer(build_jwt(_none_header("NONE"), w.claims, signature=""))),
    Case("alg-NONE-with-sig", lambda w: bearer(build_jwt(_none_header("NONE"), w.claims, signature=w.parts()[2]))),
    Case("alg-none-no-sig-part", lambda w: bearer(build_jwt(_none_header("none"), w.claims).rsplit(".", 1)[0])),
    Case("alg-HS384-right-key", lambda w: bearer(build_jwt(good_header(alg="HS384"), w.claims, digest=hashlib.sha384))),
    Case("alg-HS512-right-key", lambda w: bearer(build_jwt(good_header(alg="HS512"), w.claims, digest=hashlib.sha512))),
    Case(
        "alg-RS256-fake-sig",
        lambda w: bearer(build_jwt(good_header(alg="RS256"), w.claims, signature=b64url(bytes(range(256))))),
    ),
    Case(
        "alg-ES256-fake-sig",
        lambda w: bearer(build_jwt(good_header(alg="ES256"), w.claims, signature=b64url(b"\x07" * 64))),
    ),
    Case("alg-RS256-hmac-with-secret", lambda w: bearer(build_jwt(good_header(alg="RS256"), w.claims))),
    Case("alg-missing", lambda w: w.signed(header=good_header(alg=DROP))),
    Case("alg-lowercase-hs256", lambda w: w.signed(header=good_header(alg="hs256"))),
    Case("alg-list", lambda w: w.signed(header=good_header(alg=["HS256"]))),
    Case("alg-null", lambda w: w.signed(header=good_header(alg=None))),
    Case("other-secret", lambda w: bearer(build_jwt(good_header(), w.claims, key=OTHER_SECRET))),
    Case("empty-secret", lambda w: bearer(build_jwt(good_header(), w.claims, key=b""))),
    Case(
        "embedded-jwk-attacker-key",
        lambda w: bearer(
            build_jwt(good_header(jwk={"kty": "oct", "k": b64url(OTHER_SECRET.encode())}), w.claims, key=OTHER_SECRET)
        ),
    ),
    Case(
        "jku-attacker-url",
        lambda w: bearer(build_jwt(good_header(jku="https://attacker.invalid/keys"), w.claims, key=OTHER_SECRET)),
    ),
    Case("crit-unknown-extension", lambda w: w.signed(header=good_header(crit=["exp"], exp=1))),
    Case(
        "b64-false-detached",
        lambda w: bearer(build_jwt(good_header(b64=False, crit=["b64"]), w.claims).replace(segment(w.claims), "", 1)),
    ),
    # kid
    Case("kid-unknown", lambda w: w.signed(header=good_header(kid="k2"))),
    Case("kid-empty", lambda w: w.signed(header=good_header(kid=""))),
    Case("kid-missing", lambda w: w.signed(header=good_header(kid=DROP))),
    Case("kid-number", lambda w: w.signed(header=good_header(kid=1))),
    Case("kid-list", lambda w: w.signed(header=good_header(kid=["local"]))),
    Case("kid-object", lambda w: w.signed(header=good_header(kid={"kid": "local"}))),
    Case("kid-null", lambda w: w.signed(header=good_header(kid=None))),
    Case("kid-path", lambda w: w.signed(header=good_header(kid="../../etc/passwd"))),
    Case("kid-other-case", lambda w: w.signed(header=good_header(kid="LOCAL"))),
    Case("kid-trailing-newline", lambda w: w.signed(header=good_header(kid="local\n"))),
    Case("kid-nul", lambda w: w.signed(header=good_header(kid="local\x00"))),
    # typ
    Case("typ-JWT", lambda w: w.signed(header=good_header(typ="JWT"))),
    Case("typ-missing", lambda w: w.signed(header=good_header(typ=DROP))),
    Case("typ-AT+JWT-uppercase", lambda w: w.signed(header=good_header(typ="AT+JWT"))),
    Case("typ-application-at+jwt", lambda w: w.signed(header=good_header(typ="application/at+jwt"))),
    Case("typ-list", lambda w: w.signed(header=good_header(typ=["at+jwt"]))),
    Case("typ-null", lambda w: w.signed(header=good_header(typ=None))),
    # required claims, each missing (correctly signed)
    *[
        Case(f"missing-{claim}", lambda w, c=claim: w.signed(**{c: DROP}))
        for claim in ("iss", "aud", "sub", "sid", "role", "iat", "exp")
    ],
    # exp (C06)
    Case("exp-equals-now", lambda w: w.signed(iat=w.now - 60, exp=w.now)),
    Case("exp-equals-now-float", lambda w: w.signed(iat=w.now - 60, exp=float(w.now))),
    Case("exp-past-float", lambda w: w.signed(iat=w.now - 60, exp=w.now - 0.5)),
    Case("exp-string", lambda w: w.signed(exp=str(w.now + 600))),
    Case("exp-list", lambda w: w.signed(exp=[w.now + 600])),
    Case("exp-object", lambda w: w.signed(exp={})),
    Case("exp-null", lambda w: w.signed(exp=None)),
    Case("exp-true", lambda w: w.signed(exp=True)),
    Case("exp-negative", lambda w: w.signed(exp=-1)),
    Case("exp-10e50", lambda w: w.signed(exp=10**50)),
    Case("exp-1e308-float", lambda w: w.signed(exp=1e308)),
    Case("exp-NaN", lambda w: w.signed(exp=float("nan"))),
    Case("exp-Infinity", lambda w: w.signed(exp=float("inf"))),
    Case("exp-1e400-literal", lambda w: bearer(build_jwt(good_header(), claims_json_with(w, '"exp":1e400', "exp")))),
    # iat
    Case("iat-string", lambda w: w.signed(iat=str(w.now))),
    Case("iat-list", lambda w: w.signed(iat=[w.now])),
    Case("iat-object", lambda w: w.signed(iat={})),
    Case("iat-null", lambda w: w.signed(iat=None)),
    Case("iat-true", lambda w: w.signed(iat=True)),
    Case("iat-negative", lambda w: w.signed(iat=-1)),
    Case("iat-10e50", lambda w: w.signed(iat=10**50)),
    Case("iat-NaN", lambda w: w.signed(iat=float("nan"))),
    Case("iat-far-future", lambda w: w.signed(iat=w.now + 3600, exp=w.now + 3600 + 600)),
    Case("iat-just-past-leeway-float", lambda w: w.signed(iat=w.now + LEEWAY + 0.5, exp=w.now + 600)),
    # nbf (optional, but checked when present)
    Case("nbf-string", lambda w: w.signed(nbf=str(w.now))),
    Case("nbf-list", lambda w: w.signed(nbf=[w.now])),
    Case("nbf-object", lambda w: w.signed(nbf={})),
    Case("nbf-null", lambda w: w.signed(nbf=None)),
    Case("nbf-true", lambda w: w.signed(nbf=True)),
    Case("nbf-NaN", lambda w: w.signed(nbf=float("nan"))),
    Case("nbf-10e50", lambda w: w.signed(nbf=10**50)),
    Case("nbf-far-future", lambda w: w.signed(nbf=w.now + 60)),
    Case("nbf-just-past-leeway-float", lambda w: w.signed(nbf=w.now + LEEWAY + 0.5)),
    # lifetime
    Case("lifetime-901s", lambda w: w.signed(iat=w.now - 1, exp=w.now + 900)),
    Case("lifetime-zero", lambda w: w.signed(iat=w.now + 1, exp=w.now + 1)),
    Case("lifetime-negative", lambda w: w.signed(iat=w.now + 3, exp=w.now + 2)),
    # iss / aud
    Case("iss-wrong", lambda w: w.signed(iss="evil")),
    Case("iss-substring", lambda w: w.signed(iss="session")),  # CVE-2024-53861's partial match
    Case("iss-trailing-space", lambda w: w.signed(iss="sessiongate ")),
    Case("iss-list", lambda w: w.signed(iss=["sessiongate"])),
    Case("iss-null", lambda w: w.signed(iss=None)),
    Case("iss-number", lambda w: w.signed(iss=1)),
    Case("aud-wrong-string", lambda w: w.signed(aud="other-api")),
    Case("aud-prefix-string", lambda w: w.signed(aud="sessiongate")),
    Case("aud-wrong-list", lambda w: w.signed(aud=["other-api", "sessiongate"])),
    Case("aud-empty-list", lambda w: w.signed(aud=[])),
    Case("aud-null", lambda w: w.signed(aud=None)),
    Case("aud-object", lambda w: w.signed(aud={"sessiongate-api": True})),
    # sub / sid / role
    Case("sub-empty", lambda w: w.signed(sub="")),
    Case("sub-number", lambda w: w.signed(sub=1)),
    Case("sid-list", lambda w: w.signed(sid=[w.issued.session_id])),
    Case("sid-null", lambda w: w.signed(sid=None)),
    Case("sid-unknown", lambda w: w.signed(sid=secrets.token_urlsafe(32))),
    Case("sid-2100-bytes", lambda w: w.signed(sid="s" * 2100)),
    Case("role-empty", lambda w: w.signed(role="")),
    Case("role-escalated-ADMIN", lambda w: w.signed(role="ADMIN")),
    Case("role-list", lambda w: w.signed(role=["USER"])),
    # sessions that are gone or belong to someone else (correctly signed)
    Case("session-of-deleted-user", deleted_user, changes_world=True),
    Case("session-revoked-by-sign-out", signed_out, changes_world=True),
    Case("session-row-deleted", row_deleted, changes_world=True),
    Case("session-swept-by-sweeper", swept, changes_world=True),
    Case("session-expired-row-present", expired_row_still_present, changes_world=True),
    Case("session-absolute-expiry-passed", absolute_expiry_passed, changes_world=True),
    Case("sid-of-B-sub-of-A", sid_of_b_sub_of_a, changes_world=True),
    Case("sub-of-B-sid-of-A", sub_of_b_sid_of_a, changes_world=True),
    Case("B-deleted-A-alive", b_token_after_b_deleted_but_a_alive, changes_world=True),
    # another kind of token
    Case("refresh-token-as-access-token", lambda w: bearer(w.issued.refresh_token)),
    # tampering
    Case("tampered-header", lambda w: bearer(replace_segment(w.token, 0, segment(good_header(x="y"))))),
    Case(
        "tampered-payload-role",
        lambda w: bearer(replace_segment(w.token, 1, segment(with_claims(w.claims, role="ADMIN")))),
    ),
    Case(
        "tampered-payload-exp",
        # One second earlier than the token's own exp, so the payload always differs (an exp
        # derived from the clock could equal it when a second passed since the token was issued)
        lambda w: bearer(replace_segment(w.token, 1, segment(with_claims(w.claims, exp=w.claims["exp"] - 1)))),
    ),
    Case("tampered-signature-bit", lambda w: bearer(flip_signature_bit(w.token))),
    Case("signature-non-canonical-last-char", lambda w: bearer(non_canonical_last_char(w.token))),
    Case("signature-truncated", lambda w: bearer(w.token[:-1])),
    Case("signature-empty", lambda w: bearer(replace_segment(w.token, 2, ""))),
    Case("signature-of-other-token", lambda w: bearer(replace_segment(w.signed(role="ADMIN")[7:], 2, w.parts()[2]))),
    Case("segments-swapped", lambda w: bearer(".".join([w.parts()[1], w.parts()[0], w.parts()[2]]))),
    # structure
    Case("extra-trailing-dot", lambda w: bearer(w.token + ".")),
    Case("four-parts", lambda w: bearer(w.token + ".e30")),
    Case("two-parts", lambda w: bearer(".".join(w.parts()[:2]))),
    Case("one-part", lambda w: bearer(w.parts()[0])),
    Case("leading-dot", lambda w: bearer("." + w.token)),
    Case("only-dots", lambda w: bearer("..")),
    Case("C04-a.b", lambda w: "Bearer a.b"),
    # whitespace and non-ASCII
    Case("newline-inside", lambda w: bearer(w.token[:20] + "\n" + w.token[20:])),
    Case("trailing-newline", lambda w: bearer(w.token + "\n")),
    Case("trailing-crlf", lambda w: bearer(w.token + "\r\n")),
    Case("trailing-tab", lambda w: bearer(w.token + "\t")),
    Case("leading-tab", lambda w: bearer("\t" + w.token)),
    Case("trailing-nbsp", lambda w: bearer(w.token + "\u00a0")),
    Case("zero-width-space-inside", lambda w: bearer(w.token[:30] + "\u200b" + w.token[30:])),
    Case("non-ascii-appended", lambda w: bearer(w.token + "é")),
    Case("emoji-in-payload", lambda w: bearer(w.token.replace(".", ".\U0001f511", 1))),
    Case("fullwidth-letters", lambda w: bearer(w.token.translate({ord(c): ord(c) + 0xFEE0 for c in "abcdef"}))),
    Case("nul-byte", lambda w: bearer(w.token[:10] + "\x00" + w.token[10:])),
    # base64 and padding
    Case("bad-base64-header", lambda w: bearer(replace_segment(w.token, 0, "!!!!"))),
    Case("bad-base64-payload", lambda w: bearer(replace_segment(w.token, 1, w.parts()[1][:-2] + "%%"))),
    Case("std-base64-chars-in-signature", lambda w: bearer(replace_segment(w.token, 2, "+/" + w.parts()[2][2:]))),
    Case(
        "header-padded",
        lambda w: bearer(replace_segment(w.token, 0, w.parts()[0] + "=" * (-len(w.parts()[0]) % 4 or 2))),
    ),
    Case(
        "payload-padded",
        lambda w: bearer(replace_segment(w.token, 1, w.parts()[1] + "=" * (-len(w.parts()[1]) % 4 or 2))),
    ),
    Case("signature-padded-one-equals", lambda w: bearer(w.token + "=")),  # was BUG-1 (fixed)
    Case("signature-padded-two-equals", lambda w: bearer(w.token + "==")),
    Case("header-100kB", lambda w: bearer(build_jwt(good_header(pad="a" * 100_000), w.claims))),
    Case("payload-100kB", lambda w: bearer(build_jwt(good_header(), with_claims(w.claims, pad="a" * 100_000)))),
    Case("header-not-object", lambda w: bearer(build_jwt(["HS256"], w.claims))),
    Case("header-null", lambda w: bearer(build_jwt("null", w.claims))),
    Case("header-not-json", lambda w: bearer(build_jwt("{alg:HS256", w.claims))),
    Case("payload-not-object", lambda w: bearer(build_jwt(good_header(), [w.claims]))),
    Case("payload-null", lambda w: bearer(build_jwt(good_header(), "null"))),
    Case("payload-nested-1400-deep", lambda w: bearer(build_jwt(good_header(), nested_json(1400)))),
    Case(
        "header-nested-1400-deep",
        lambda w: bearer(build_jwt('{"alg":"HS256","x":' + "[" * 1400 + "]" * 1400 + "}", w.claims)),
    ),
    # schemes (C04)
    Case("scheme-Basic", lambda w: f"Basic {w.token}"),
    Case("scheme-missing", lambda w: w.token),
    Case("scheme-Token", lambda w: f"Token {w.token}"),
    Case("scheme-two-spaces", lambda w: f"Bearer  {w.token}"),
    Case("scheme-trailing-space", lambda w: f"Bearer {w.token} "),
    Case("scheme-leading-space", lambda w: f" Bearer {w.token}"),
    Case("scheme-tab-separator", lambda w: f"Bearer\t{w.token}"),
    Case("scheme-colon", lambda w: f"Bearer:{w.token}"),
    Case("scheme-twice", lambda w: f"Bearer Bearer {w.token}"),
    Case("two-tokens", lambda w: f"Bearer {w.token}, Bearer {w.token}"),
    Case("scheme-only", lambda w: "Bearer"),
    Case("scheme-and-space", lambda w: "Bearer "),
    Case("header-empty", lambda w: ""),
    Case("header-whitespace", lambda w: "   "),
    # not a string at all
    Case("header-null-value", lambda w: None),
    Case("header-number", lambda w: 42),
    Case("header-float", lambda w: 4.2),
    Case("header-bool", lambda w: True),
    Case("header-list", lambda w: [bearer(w.token)]),
    Case("header-object", lambda w: {"Bearer": w.token}),
]

ALLOWED: list[Case] = [
    Case("scheme-Bearer", lambda w: f"Bearer {w.token}"),
    Case("scheme-bearer", lambda w: f"bearer {w.token}"),
    Case("scheme-BEARER", lambda w: f"BEARER {w.token}"),
    Case("scheme-bEaReR", lambda w: f"bEaReR {w.token}"),
    Case("iat-within-leeway", lambda w: w.signed(iat=w.now + 3, exp=w.now + 600)),
    Case("iat-at-leeway-boundary", lambda w: w.signed(iat=w.now + LEEWAY, exp=w.now + 600)),
    Case("nbf-within-leeway", lambda w: w.signed(nbf=w.now + 4)),
    Case("nbf-past", lambda w: w.signed(nbf=w.now - 60)),
    Case("nbf-negative", lambda w: w.signed(nbf=-1)),  # long past: no restriction
    Case("exp-now-plus-half-second", lambda w: w.signed(iat=w.now - 60, exp=w.now + 0.5)),  # C06
    Case("lifetime-exactly-900s", lambda w: w.signed(iat=w.now - 1, exp=w.now + 899)),
    Case("aud-list-containing-ours", lambda w: w.signed(aud=["other-api", "sessiongate-api"])),  # RFC 7519 §4.1.3
    Case("rotated-access-token", rotated_access_token, changes_world=True),
]


def _params(cases: list[Case], *, changes_world: bool) -> list[Any]:
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)] if c.bug else [])
        for c in cases
        if c.changes_world == changes_world
    ]


def _freeze_authorizer_clock(monkeypatch: pytest.MonkeyPatch) -> int:
    now = int(time.time())
    monkeypatch.setattr(authorizer, "time", types.SimpleNamespace(time=lambda: float(now)))
    return now


@pytest.fixture(scope="module")
def shared(dynamodb_endpoint, template, passwords) -> dict[str, Any]:
    """One world for every case that only reads it (built once: tables, user A, a session)."""
    return {"endpoint": dynamodb_endpoint, "template": template, "passwords": passwords}


@pytest.fixture
def world(shared, monkeypatch) -> World:
    """The shared world, rebuilt if another test reset moto meanwhile; the authorizer's clock frozen."""
    from sessiongate.config import load_settings
    from sessiongate.keys import KeyProvider

    current: World | None = shared.get("world")
    if current is None or raw_session(current.tables, current.issued.session_id) is None:
        tables = fresh_tables(shared["endpoint"], shared["template"])
        settings, passwords = load_settings(), shared["passwords"]
        keys = KeyProvider(settings).current()
        user = sessions.create_user(
            passwords, email="ada@example.com", password=DEMO_PASSWORD, name="Ada", role="USER", now=int(time.time())
        )
        issued = sign_in_as(user, settings, keys, passwords)
        current = shared["world"] = World(0, user, issued, tables, passwords, settings, keys)
    return dataclasses.replace(current, now=_freeze_authorizer_clock(monkeypatch))


@pytest.fixture
def own_world(issued, user, tables, passwords, settings, keys, monkeypatch) -> World:
    """A world of its own (the integration fixtures: fresh tables, user, session) for cases that change it."""
    return World(_freeze_authorizer_clock(monkeypatch), user, issued, tables, passwords, settings, keys)


@pytest.fixture
def failure_spy():
    with spying_on_failures(authorizer) as spy:
        yield spy


def check_refused(case: Case, world: World, spy) -> None:
    # Given a hostile header, when the authorizer sees it in a real-shaped TOKEN event
    outcome = authorize_header(authorizer, case.build(world), spy)
    TALLY.token(case.id, documented=outcome == Outcome("unauthorized"))
    # Then exactly Exception("Unauthorized"), from a refusal the domain made on purpose
    assert outcome == Outcome("unauthorized")


def check_allowed(case: Case, world: World, spy) -> None:
    outcome = authorize_header(authorizer, case.build(world), spy)
    TALLY.token(case.id, documented=outcome == Outcome("allow", world.user.id))
    assert outcome == Outcome("allow", world.user.id)


@pytest.mark.parametrize("case", _params(REFUSED, changes_world=False))
def test_hostile_token_is_unauthorized(case: Case, world: World, failure_spy) -> None:
    check_refused(case, world, failure_spy)


@pytest.mark.parametrize("case", _params(ALLOWED, changes_world=False))
def test_valid_edge_token_is_allowed(case: Case, world: World, failure_spy) -> None:
    check_allowed(case, world, failure_spy)


@pytest.mark.parametrize("case", _params(REFUSED, changes_world=True))
def test_token_of_a_changed_world_is_unauthorized(case: Case, own_world: World, failure_spy) -> None:
    check_refused(case, own_world, failure_spy)


@pytest.mark.parametrize("case", _params(ALLOWED, changes_world=True))
def test_valid_token_of_a_changed_world_is_allowed(case: Case, own_world: World, failure_spy) -> None:
    check_allowed(case, own_world, failure_spy)


def test_corpus_is_big_and_distinct() -> None:
    ids = [c.id for c in REFUSED + ALLOWED]
    assert len(REFUSED) >= 40 and len(ALLOWED) >= 5
    assert len(ids) == len(set(ids))


def test_corpus_builds_distinct_headers(world: World) -> None:
    pure = [c for c in REFUSED if not c.changes_world]
    headers = [repr(c.build(world)) for c in pure]
    assert len(set(headers)) == len(headers), "two corpus cases send the same header"


def test_malformed_method_arn_with_valid_token_is_unauthorized(world: World, failure_spy) -> None:
    # The ARN comes from API Gateway, not the caller: a bad one fails closed through the catch-all
    outcome = authorize_header(authorizer, bearer(world.token), failure_spy, method_arn="not-an-arn")
    assert outcome.kind in ("unauthorized", "failure")


def test_classifier_tells_the_catch_all_from_a_refusal(world: World, failure_spy, monkeypatch) -> None:
    # A bug inside the domain (here a TypeError) still ends in Unauthorized, but is not "as documented"
    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(authorizer.sessions, "authorize", broken)
    outcome = authorize_header(authorizer, bearer(world.token), failure_spy)
    assert outcome.kind == "failure" and "TypeError" in outcome.detail


def test_access_token_presented_as_refresh_token_is_invalid_token(world: World) -> None:
    # Given a live access token, when it is sent to /auth/refresh, then 401 invalid_token and nothing revoked
    response = rotate.lambda_handler(proxy_event("refresh", body={"refreshToken": world.token}), FakeContext())
    assert response["statusCode"] == 401
    assert response_json(response) == {"error": "invalid_token", "message": "The token is invalid, expired or revoked."}
    assert raw_session(world.tables, world.issued.session_id) is not None


def test_corpus_signatures_are_made_by_hand(world: World, failure_spy) -> None:
    # The hand signer signs exactly like the product: rebuilding A's token gives the same bytes
    head, payload, signature = world.parts()
    assert hs_sign(f"{head}.{payload}") == signature
    rebuilt = build_jwt(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))), world.claims)
    assert authorize_header(authorizer, bearer(rebuilt), failure_spy) == Outcome("allow", world.user.id)
