"""Properties (hypothesis) of the three public entry points under arbitrary input, on one moto table set.

(a) authorizer: any event ends in Allow only for an unmodified valid token, otherwise in
    exactly Exception("Unauthorized"); for a well-formed event (a string header, a real
    method ARN) the refusal must be the domain's, not the handler's catch-all.
(b) sign-in: any body ends in a documented status {200, 400, 401, 429, 503} with the
    {"error", "message"} shape, and 200 only for the right password of the known email.
(c) refresh: any body ends in {200, 400, 401, 409, 503}; 200 only for a token the server
    issued; a token it never issued changes nothing (no rotation, no revocation).

Deep nesting and huge integer literals are kept out of the generated input (they make the
generator slow) and tested on their own in test_body_parsing_bugs below: they once crashed
the JSON handlers (BUG-2, BUG-3, fixed). A valid token with one '=' appended was once
allowed (BUG-1, fixed); the property now refuses every modified token.

Examples per property: 2,000 under `make test` (profile "security", derandomized);
HYPOTHESIS_PROFILE=fuzz (`make fuzz`) runs 50,000 with a random seed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.authorizer import app as authorizer
from functions.rotate import app as rotate
from functions.sign_in import app as sign_in
from sessiongate import sessions, tokens
from sessiongate.passwords import Passwords
from tests.helpers import FakeContext, load_event, token_event
from tests.integration.conftest import Tables, raw_session
from tests.security.support import (
    ARN,
    PROPERTY_SETTINGS,
    TALLY,
    authorizer_outcome,
    b64url,
    build_jwt,
    fresh_tables,
    spying_on_failures,
)

KNOWN_EMAIL = "ada@example.com"
RIGHT_PASSWORD = "correct horse battery staple"
REFRESH_OWNER = "refresh-owner-5e1f@example.com"
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Below the limits past which BUG-2 / BUG-3 crash the handlers (see the module docstring):
# Python 3.13's JSON decoder raises RecursionError somewhere between 9,000 and 20,000 levels.
MAX_SAFE_DEPTH = 5_000
MAX_SAFE_DIGITS = 4000
SIGN_IN_STATUSES = {200, 400, 401, 429, 503}
REFRESH_STATUSES = {200, 400, 401, 409, 503}
ERROR_CODES = {
    400: "invalid_request",
    401: ("invalid_credentials", "invalid_token"),
    409: "refresh_conflict",
    429: "too_many_attempts",
    503: "service_unavailable",
}


# --- one world for the whole module -------------------------------------------------------


@dataclass
class PropertyWorld:
    tables: Tables
    settings: Any
    keys: Any
    passwords: Passwords
    access_token: str
    user_id: str
    refresh_session: str = ""
    refresh_current: str = ""
    refresh_issued: set[str] = field(default_factory=set)
    refresh_history: list[str] = field(default_factory=list)
    refresh_maybe_revoked: bool = False

    def open_refresh_session(self) -> None:
        issued = sessions.sign_in(
            self.settings,
            self.keys,
            self.passwords,
            email=REFRESH_OWNER,
            password=RIGHT_PASSWORD,
            user_agent=None,
            source_ip=None,
            now=int(time.time()),
        )
        self.refresh_session, self.refresh_current = issued.session_id, issued.refresh_token
        self.refresh_issued.add(issued.refresh_token)
        self.refresh_history.append(issued.refresh_token)


def cheapest_passwords() -> Passwords:
    # argon2 refuses memory below 8 KiB per lane: the cheapest Argon2id it accepts
    return Passwords(time_cost=1, memory_kib=8, parallelism=1)


@pytest.fixture(scope="module")
def world(dynamodb_endpoint: str, template: dict) -> Iterator[PropertyWorld]:
    from sessiongate.config import load_settings
    from sessiongate.keys import KeyProvider

    tables = fresh_tables(dynamodb_endpoint, template)
    settings = load_settings()
    keys = KeyProvider(settings).current()
    passwords = cheapest_passwords()
    now = int(time.time())
    user = sessions.create_user(passwords, email=KNOWN_EMAIL, password=RIGHT_PASSWORD, name="Ada", role="USER", now=now)
    sessions.create_user(passwords, email=REFRESH_OWNER, password=RIGHT_PASSWORD, name="Rita", role="USER", now=now)
    access = sessions.sign_in(
        settings,
        keys,
        passwords,
        email=KNOWN_EMAIL,
        password=RIGHT_PASSWORD,
        user_agent=None,
        source_ip=None,
        now=now,
    ).access_token
    world = PropertyWorld(tables, settings, keys, passwords, access, user.id)
    world.open_refresh_session()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sign_in, "passwords", passwords)  # a cheap Argon2id keeps 2,000 sign-ins fast
        yield world


# --- shared strategies ------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cs", "Co", "Cn", "Zs", "Cc"]), max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
any_value = st.one_of(json_values, st.binary(max_size=40), st.builds(object), st.just(float("nan")))
b64_part = st.one_of(
    st.binary(max_size=80).map(b64url),
    st.text(alphabet=B64URL + "=+/.!% \t\n", max_size=80),
    st.text(max_size=30),
)
jwt_looking = st.lists(b64_part, min_size=1, max_size=5).map(".".join)
scheme = st.sampled_from(["Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer  ", "Basic ", "", " Bearer ", "Bearer\t"])


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


# --- (a) the authorizer -------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """Edits applied to the valid token at run time (positions are taken modulo its length)."""

    ops: tuple[tuple[Any, ...], ...]

    def apply(self, token: str) -> str:
        out = token
        for op in self.ops:
            kind, position = op[0], op[1] % (len(out) + 1)
            if kind == "replace" and out:
                position %= len(out)
                out = out[:position] + op[2] + out[position + 1 :]
            elif kind == "insert":
                out = out[:position] + op[2] + out[position:]
            elif kind == "delete" and out:
                position %= len(out)
                out = out[:position] + out[position + 1 :]
            elif kind == "truncate":
                out = out[:position]
            elif kind == "append":
                out = out + op[2]
            elif kind == "segment":
                parts = out.split(".")
                parts[position % len(parts)] = op[2]
                out = ".".join(parts)
            elif kind == "swapcase" and out:
                position %= len(out)
                out = out[:position] + out[position].swapcase() + out[position + 1 :]
        return out


edit_char = st.one_of(st.sampled_from(B64URL + ".=+/ \t\n\x00"), st.characters())
mutation_op = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, 10_000), edit_char),
    st.tuples(st.just("insert"), st.integers(0, 10_000), edit_char),
    st.tuples(st.just("delete"), st.integers(0, 10_000)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000)),
    st.tuples(st.just("append"), st.integers(0, 0), st.text(alphabet=B64URL + ".= ", min_size=1, max_size=4)),
    st.tuples(st.just("segment"), st.integers(0, 5), b64_part),
    st.tuples(st.just("swapcase"), st.integers(0, 10_000)),
)
mutations = st.lists(mutation_op, min_size=0, max_size=3).map(lambda ops: Mutation(tuple(ops)))

structured_jwt = st.builds(
    lambda header, claims, sign_with_key, signature: (
        build_jwt(header, claims) if sign_with_key else build_jwt(header, claims, signature=signature)
    ),
    header=st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["HS256", "none", "None", "HS384", "HS512", "RS256", "ES256", ""]) | json_scalars,
            "typ": st.sampled_from(["at+jwt", "JWT", "AT+JWT"]) | json_scalars,
            "kid": st.sampled_from(["local", "", "../../etc/passwd"]) | json_scalars,
            "crit": json_values,
        },
    ),
    # random claims around a plausible token; `sid` is never the real session's
    claims=st.fixed_dictionaries(
        {},
        optional={
            "iss": st.sampled_from(["sessiongate", "session", "evil"]) | json_scalars,
            "aud": st.sampled_from(["sessiongate-api", ["sessiongate-api"], "x"]) | json_scalars,
            "sub": st.text(max_size=32) | json_scalars,
            "sid": st.text(max_size=44) | json_scalars,
            "role": st.sampled_from(["USER", "ADMIN"]) | json_scalars,
            "iat": st.integers(int(time.time()) - 1000, int(time.time()) + 1000) | json_scalars,
            "exp": st.integers(int(time.time()) - 1000, int(time.time()) + 2000) | json_scalars,
            "nbf": json_scalars,
        },
    ),
    sign_with_key=st.booleans(),
    signature=b64_part,
)

authorizer_inputs = st.one_of(
    st.tuples(st.just("mutation"), scheme, mutations, st.sampled_from(["", "", "", " ", "\n", "="])),
    st.tuples(
        st.just("random-event"),
        st.dictionaries(st.sampled_from(["type", "authorizationToken", "methodArn"]) | st.text(max_size=8), any_value),
    ),
    st.tuples(st.just("random-header"), any_value, st.sampled_from([ARN, ARN]) | any_value),
    st.tuples(st.just("random-string"), st.text(max_size=200)),
    st.tuples(st.just("jwt-looking"), scheme, jwt_looking),
    st.tuples(st.just("structured-jwt"), scheme, structured_jwt),
)


def _classify_expectation(example: tuple[Any, ...], valid: str) -> tuple[dict[str, Any], bool, bool]:
    """(event, whether Allow is the one right answer, whether the event is well-formed)."""
    kind = example[0]
    if kind == "mutation":
        _, prefix, mutation, suffix = example
        token = mutation.apply(valid) + suffix
        header = prefix + token
        scheme_ok = prefix.lower() == "bearer "
        return token_event(header), scheme_ok and token == valid, True
    if kind == "random-event":
        return example[1], False, False
    if kind == "random-header":
        _, header, arn = example
        return token_event(header, arn), False, isinstance(header, str) and arn == ARN
    if kind == "random-string":
        return token_event(example[1]), False, True
    _, prefix, token = example
    return token_event(prefix + token), False, True


@PROPERTY_SETTINGS
@given(example=authorizer_inputs)
def test_authorizer_allows_only_the_unmodified_valid_token(world: PropertyWorld, example: tuple[Any, ...]) -> None:
    event, allow_expected, well_formed = _classify_expectation(example, world.access_token)
    with spying_on_failures(authorizer) as spy:
        outcome = authorizer_outcome(authorizer, event, spy)
    TALLY.example("authorizer", outcome.kind)
    if allow_expected:
        assert outcome.kind == "allow" and outcome.detail == world.user_id, outcome
    elif well_formed:
        assert outcome.kind == "unauthorized", (outcome, example)
    else:
        assert outcome.kind in ("unauthorized", "failure"), (outcome, example)


# --- (b) sign-in --------------------------------------------------------------------------

known_email_variants = st.builds(
    lambda email, pad_left, pad_right: pad_left + email + pad_right,
    st.sampled_from([KNOWN_EMAIL, KNOWN_EMAIL.upper(), "Ada@Example.com"]),
    st.sampled_from(["", " ", "\t"]),
    st.sampled_from(["", " ", "\n"]),
)
email_values = st.one_of(
    known_email_variants, st.emails(), st.text(max_size=40), json_values, st.integers(0, 400_000).map(lambda n: "a" * n)
)
password_values = st.one_of(
    st.just(RIGHT_PASSWORD),
    st.text(max_size=40),
    json_values,
    st.integers(0, 400_000).map(lambda n: "p" * n),
    st.integers(1, MAX_SAFE_DEPTH).map(lambda d: json.loads(nested(d))),
)


def credentials_body(email: Any, password: Any, extra: dict[str, Any], drop: str | None) -> Any:
    body = {**extra, "email": email, "password": password}
    if drop:
        body.pop(drop, None)
    return body


json_bodies = st.one_of(
    st.builds(
        credentials_body,
        email_values,
        password_values,
        st.dictionaries(st.text(max_size=10), json_values, max_size=3),
        st.sampled_from([None, None, None, "email", "password"]),
    ),
    json_values,
)


def raw_text_of(kind: str, value: Any) -> str:
    if kind == "json":
        return json.dumps(value)
    return value


body_inputs = st.one_of(
    st.tuples(st.just("json"), json_bodies, st.booleans()),
    st.tuples(st.just("text"), st.text(max_size=300), st.booleans()),
    st.tuples(st.just("text"), st.integers(1, MAX_SAFE_DEPTH).map(nested), st.booleans()),
    st.tuples(
        st.just("text"),
        st.integers(1, MAX_SAFE_DIGITS).map(lambda n: '{"email": ' + "9" * n + ', "password": "x"}'),
        st.booleans(),
    ),
    st.tuples(st.just("text"), st.integers(1, 300_000).map(lambda n: '{"email":"' + "b" * n + '"'), st.booleans()),
    st.tuples(st.just("invalid-base64"), st.text(max_size=80)),
    st.tuples(st.just("bytes-base64"), st.binary(max_size=80)),
    st.tuples(st.just("no-body"), st.sampled_from([None, ""])),
)


def body_event(name: str, example: tuple[Any, ...]) -> tuple[dict[str, Any], Any]:
    """A real-shaped proxy event with the example's body; returns it and the decoded JSON (if any)."""
    event = load_event(name)
    kind = example[0]
    decoded: Any = None
    if kind in ("json", "text"):
        raw, as_base64 = raw_text_of(kind, example[1]), example[2]
        if kind == "json":
            decoded = example[1]
        event["body"] = base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode() if as_base64 else raw
        event["isBase64Encoded"] = as_base64
    elif kind == "invalid-base64":
        event["body"], event["isBase64Encoded"] = example[1], True
    elif kind == "bytes-base64":
        event["body"], event["isBase64Encoded"] = base64.b64encode(example[1]).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = example[1], False
    return event, decoded


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = values[-1]
    return headers


def check_response_shape(response: dict[str, Any], statuses: set[int]) -> dict[str, Any]:
    status = response["statusCode"]
    assert status in statuses, response
    headers = response_headers(response)
    assert headers.get("cache-control") == "no-store"
    body = json.loads(response["body"])
    if status != 200:
        assert set(body) == {"error", "message"} and all(isinstance(v, str) for v in body.values()), body
        expected = ERROR_CODES[status]
        assert body["error"] in (expected if isinstance(expected, tuple) else (expected,)), body
        if status in (409, 429, 503):
            assert int(headers["retry-after"]) >= 1
    return body


def _is_known_right(decoded: Any) -> bool:
    return (
        isinstance(decoded, dict)
        and isinstance(decoded.get("email"), str)
        and decoded["email"].strip().lower() == KNOWN_EMAIL
        and decoded.get("password") == RIGHT_PASSWORD
    )


@PROPERTY_SETTINGS
@given(example=body_inputs)
def test_sign_in_answers_only_documented_statuses(world: PropertyWorld, example: tuple[Any, ...]) -> None:
    event, decoded = body_event("sign_in", example)
    response = sign_in.lambda_handler(event, FakeContext())
    TALLY.example("sign-in", str(response["statusCode"]))
    body = check_response_shape(response, SIGN_IN_STATUSES)
    if response["statusCode"] == 200:
        # only the right password of the known email opens a session (plain JSON or base64 of it)
        assert _is_known_right(decoded), example
        assert body["user"]["email"] == KNOWN_EMAIL and body["tokenType"] == "Bearer"


# --- (c) refresh --------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshPick:
    """Which refresh token to send, resolved against the world's state at run time."""

    source: str  # current | previous | oldest | forged-tag | mutation
    mutation: Mutation = Mutation(())
    generation: int = 0
    nonce: str = ""

    def resolve(self, world: PropertyWorld) -> str:
        history = world.refresh_history
        if self.source == "current":
            return world.refresh_current
        if self.source == "previous":
            return history[-2] if len(history) > 1 else history[-1]
        if self.source == "oldest":
            return history[0]
        if self.source == "forged-tag":
            tag = b64url(hashlib.sha256(self.nonce.encode()).digest())  # well-formed, never the server's
            return f"rt1.{world.refresh_session}.{self.generation}.{self.nonce or 'n' * 43}.{tag}"
        return self.mutation.apply(world.refresh_current)


refresh_picks = st.one_of(
    st.sampled_from([RefreshPick("current"), RefreshPick("previous"), RefreshPick("oldest")]),
    st.builds(
        RefreshPick,
        st.just("forged-tag"),
        st.just(Mutation(())),
        st.integers(0, 10**9),
        st.text(alphabet=B64URL, min_size=16, max_size=128),
    ),
    st.builds(RefreshPick, st.just("mutation"), mutations.filter(lambda m: m.ops)),
)
refresh_inputs = st.one_of(
    st.tuples(st.just("pick"), refresh_picks, st.booleans()),
    st.tuples(
        st.just("json"),
        st.one_of(
            json_values,
            st.fixed_dictionaries({"refreshToken": json_values | st.text(alphabet=B64URL + ".", max_size=600)}),
        ),
        st.booleans(),
    ),
    st.tuples(st.just("text"), st.text(max_size=300), st.booleans()),
    st.tuples(st.just("text"), st.integers(1, MAX_SAFE_DEPTH).map(nested), st.booleans()),
    st.tuples(
        st.just("text"), st.integers(1, 300_000).map(lambda n: '{"refreshToken":"' + "r" * n + '"}'), st.booleans()
    ),
    st.tuples(st.just("invalid-base64"), st.text(max_size=80)),
    st.tuples(st.just("bytes-base64"), st.binary(max_size=80)),
    st.tuples(st.just("no-body"), st.sampled_from([None, ""])),
)


def _row(world: PropertyWorld) -> tuple[str, str] | None:
    item = raw_session(world.tables, world.refresh_session)
    return None if item is None else (item["generation"]["N"], item["sessionToken"]["S"])


@PROPERTY_SETTINGS
@given(example=refresh_inputs)
def test_refresh_answers_only_documented_statuses(world: PropertyWorld, example: tuple[Any, ...]) -> None:
    if world.refresh_maybe_revoked:  # an issued token was refused: reuse detection may have revoked the session
        world.refresh_maybe_revoked = False
        if _row(world) is None:
            world.open_refresh_session()
    presented: Any = None
    if example[0] == "pick":
        presented = example[1].resolve(world)
        example = ("json", {"refreshToken": presented}, example[2])
    elif example[0] == "json" and isinstance(example[1], dict):
        presented = example[1].get("refreshToken")
    issued_by_server = isinstance(presented, str) and presented in world.refresh_issued
    # Only a token naming the session can change its row: read it around those (DynamoDB reads are slow)
    names_session = isinstance(presented, str) and world.refresh_session in presented
    before = _row(world) if names_session else None
    event, _ = body_event("refresh", example)
    response = rotate.lambda_handler(event, FakeContext())
    TALLY.example("refresh", str(response["statusCode"]))
    body = check_response_shape(response, REFRESH_STATUSES)
    if response["statusCode"] == 200:
        # the server only ever honours a token it issued, and hands back the session's current one
        assert issued_by_server, example
        assert tokens.token_digest(body["refreshToken"]) == _row(world)[1]
        world.refresh_current = body["refreshToken"]
        if body["refreshToken"] not in world.refresh_issued:
            world.refresh_issued.add(body["refreshToken"])
            world.refresh_history.append(body["refreshToken"])
    elif issued_by_server:
        world.refresh_maybe_revoked = True
    elif names_session:
        # a forged or mutated token revokes nothing and rotates nothing
        assert _row(world) == before, example


# --- the bugs kept out of the generated input -------------------------------------------


@pytest.mark.parametrize(
    ("handler_name", "raw"),
    [
        pytest.param(
            "sign_in",
            nested(100_000),
            id="sign-in-nested-100000",
        ),
        pytest.param(
            "sign_in",
            '{"email": ' + nested(20_000) + ', "password": "x"}',
            id="sign-in-email-nested-20000",
        ),
        pytest.param(
            "refresh",
            nested(100_000),
            id="refresh-nested-100000",
        ),
        pytest.param(
            "sign_in",
            '{"email": ' + "9" * 4301 + ', "password": "x"}',
            id="sign-in-int-4301-digits",
        ),
        pytest.param(
            "refresh",
            '{"refreshToken": ' + "9" * 4301 + "}",
            id="refresh-int-4301-digits",
        ),
        pytest.param("sign_in", nested(MAX_SAFE_DEPTH), id="sign-in-nested-at-the-property-cap"),
        pytest.param("sign_in", '{"email": ' + "9" * MAX_SAFE_DIGITS + "}", id="sign-in-int-at-the-property-cap"),
    ],
)
def test_body_parsing_bugs(world: PropertyWorld, handler_name: str, raw: str) -> None:
    # Given a small hostile body (a few hundred kB at most), then a 400 invalid_request, not a crash (502)
    handler = {"sign_in": sign_in, "refresh": rotate}[handler_name]
    event = load_event(handler_name)
    event["body"], event["isBase64Encoded"] = raw, False
    response = handler.lambda_handler(event, FakeContext())
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"] == "invalid_request"
