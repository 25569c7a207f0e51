"""What the security tests share: hand-built JWTs, the authorizer's outcome, a tally for the summary."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.conftest import TEST_SECRET
from tests.helpers import FakeContext, policy_allows, token_event

# Hypothesis profiles, applied per property with @PROPERTY_SETTINGS and never loaded globally (the
# other tiers keep their own settings): "security" is what `make test` runs (2,000 examples per
# property, derandomized, no example database); "fuzz" (HYPOTHESIS_PROFILE=fuzz, `make fuzz`)
# runs 50,000 with a random seed and prints a reproduction blob on failure.
hypothesis_settings.register_profile(
    "security",
    max_examples=2_000,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
hypothesis_settings.register_profile(
    "fuzz", parent=hypothesis_settings.get_profile("security"), max_examples=50_000, derandomize=False
)
PROFILE_NAME = "fuzz" if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else "security"
PROPERTY_SETTINGS = hypothesis_settings.get_profile(PROFILE_NAME)

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/me"
OTHER_SECRET = "an-attacker-chosen-secret-that-is-also-long-enough-42"


# --- hand-built tokens ------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    """One JWT segment: a JSON value (or raw JSON text) base64url-encoded, no padding."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return b64url(text.encode())


def hs_sign(signing_input: str, key: str | bytes = TEST_SECRET, digest: Callable = hashlib.sha256) -> str:
    raw_key = key.encode() if isinstance(key, str) else key
    return b64url(hmac.new(raw_key, signing_input.encode(), digest).digest())


def build_jwt(
    header: Any,
    claims: Any,
    *,
    key: str | bytes = TEST_SECRET,
    digest: Callable = hashlib.sha256,
    signature: str | None = None,
) -> str:
    """A compact JWS built by hand (no library between the test and the bytes).

    `header` and `claims` are JSON values or raw JSON text (to send NaN, duplicates, ...);
    the signature is HMAC over the exact segments unless `signature` is given.
    """
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{hs_sign(signing_input, key, digest) if signature is None else signature}"


def good_header(**overrides: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "HS256", "typ": "at+jwt", "kid": "local"}
    for name, value in overrides.items():
        if value is DROP:
            header.pop(name, None)
        else:
            header[name] = value
    return header


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()  # marks a header field or claim to leave out


def with_claims(claims: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    out = dict(claims)
    for name, value in overrides.items():
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --- the authorizer's outcome -----------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one authorizer call ended in.

    kind: "allow" (an Allow policy for the method ARN), "unauthorized" (exactly
    Exception("Unauthorized") after a domain refusal), "failure" (Exception("Unauthorized"),
    but reached through the handler's catch-all: a bug hidden by failing closed), or
    "other" (anything else: a returned dict that does not allow, another exception).
    """

    kind: str
    detail: str = ""


class FailureSpy:
    """Records the handler's catch-all path (`logger.exception("authorizer failure")`)."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def __call__(self, msg: object, *args: object, **kwargs: object) -> None:
        exc = sys.exc_info()[1]
        self.failures.append(f"{msg}: {type(exc).__name__}: {exc}")


@contextmanager
def spying_on_failures(authorizer_module: Any) -> Iterator[FailureSpy]:
    spy = FailureSpy()
    logger = authorizer_module.logger
    original = logger.exception
    logger.exception = spy
    try:
        yield spy
    finally:
        logger.exception = original


def authorizer_outcome(authorizer_module: Any, event: Any, spy: FailureSpy, method_arn: str = ARN) -> Outcome:
    before = len(spy.failures)
    try:
        result = authorizer_module.lambda_handler(event, FakeContext())
    except Exception as exc:  # noqa: BLE001 - classifying every possible ending is the point
        if type(exc) is Exception and exc.args == ("Unauthorized",):
            if len(spy.failures) > before:
                return Outcome("failure", spy.failures[-1])
            return Outcome("unauthorized")
        return Outcome("other", f"{type(exc).__name__}: {exc}")
    if isinstance(result, dict) and "policyDocument" in result and policy_allows(result, method_arn):
        return Outcome("allow", str(result.get("principalId")))
    return Outcome("other", f"returned {result!r}"[:300])


def authorize_header(authorizer_module: Any, header: Any, spy: FailureSpy, method_arn: str = ARN) -> Outcome:
    return authorizer_outcome(authorizer_module, token_event(header, method_arn), spy, method_arn)


# --- figures for the closing note -------------------------------------------------------


@dataclass
class Tally:
    """Counts printed in the pytest terminal summary (see conftest.pytest_terminal_summary)."""

    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    tokens_tried: int = 0
    tokens_documented: int = 0
    tokens_undocumented: list[str] = field(default_factory=list)
    examples: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    races: list[str] = field(default_factory=list)

    def token(self, case_id: str, documented: bool) -> None:
        with self.lock:
            self.tokens_tried += 1
            if documented:
                self.tokens_documented += 1
            else:
                self.tokens_undocumented.append(case_id)

    def example(self, prop: str, outcome: str) -> None:
        with self.lock:
            self.examples[prop] += 1
            self.outcomes.setdefault(prop, Counter())[outcome] += 1

    def race(self, text: str) -> None:
        with self.lock:
            self.races.append(text)


TALLY = Tally()


# --- tables for module-scoped worlds ------------------------------------------------------


def fresh_tables(endpoint: str, template: dict) -> Any:
    """Reset this tier's moto and create the tables as template.yaml declares them (any fixture scope)."""
    import os
    import urllib.request

    import boto3

    from local.template import create_tables
    from tests.integration.conftest import Tables

    assert endpoint.startswith("http://127.0.0.1:")
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    names = {"SessionsTable": os.environ["SESSIONS_TABLE"], "UsersTable": os.environ["USERS_TABLE"]}
    create_tables(client, template, names)
    return Tables(client, names["SessionsTable"], names["UsersTable"])
