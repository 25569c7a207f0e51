"""Warm handlers in this process against the bench's DynamoDB: the authorizer and sign-in,
each timed side by side with the irreducible work it has to do.

Imported only after bench/__main__ set the environment (PynamoDB binds table names and
the handlers load their settings at import).
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from dataclasses import dataclass
from typing import Any

import botocore.session
import jwt

from bench.measure import DynamoDBCalls, dynamodb_share, interleave
from bench.report import Row
from tests.helpers import FakeContext, proxy_event, token_event

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/me"


@dataclass
class Account:
    email: str
    password: str
    user_id: str


def new_account(passwords: Any, label: str) -> Account:
    from sessiongate import sessions

    email = f"bench-{label}-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(18)
    view = sessions.create_user(
        passwords, email=email, password=password, name="Bench", role="USER", now=int(time.time())
    )
    return Account(email, password, view.id)


def pynamodb_clients() -> list[Any]:
    """The botocore clients of every PynamoDB model the layer uses (each model has its own)."""
    from sessiongate import models

    return [model._get_connection().connection.client for model in (models.Session, models.User, models.EmailClaim)]


def sign_in_event(account: Account, password: str | None = None) -> dict[str, Any]:
    return proxy_event("sign_in", body={"email": account.email, "password": password or account.password})


def authorizer_overhead(endpoint: str, *, pairs: int, warmup: int, time_limit_s: float, goal: float) -> Row:
    """The authorizer handler vs one jwt.decode (HS256, same key) + one raw botocore GetItem (consistent)."""
    from functions.authorizer import app as authorizer
    from sessiongate import sessions
    from sessiongate.passwords import Passwords

    settings = authorizer.settings
    keys = authorizer.keys.current()
    account = new_account(Passwords(), "authz")
    issued = sessions.sign_in(
        settings,
        keys,
        Passwords(),
        email=account.email,
        password=account.password,
        user_agent="bench",
        source_ip="127.0.0.1",
        now=int(time.time()),
    )
    event = token_event(f"Bearer {issued.access_token}", ARN)
    context = FakeContext(function_name="AuthorizerFunction", memory_limit_in_mb=512)
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name=os.environ["AWS_REGION"], endpoint_url=endpoint
    )
    secret = keys.signing.secret
    key = {"id": {"S": issued.session_id}}

    def handler() -> None:
        policy = authorizer.lambda_handler(event, context)
        if policy["principalId"] != account.user_id:
            raise AssertionError("the authorizer did not allow a valid token")

    def irreducible() -> None:
        jwt.decode(
            issued.access_token,
            secret,
            algorithms=["HS256"],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
        )
        if "Item" not in client.get_item(TableName=settings.sessions_table, Key=key, ConsistentRead=True):
            raise AssertionError("session row missing")

    samples = interleave(handler, irreducible, pairs=pairs, warmup=warmup, time_limit_s=time_limit_s)
    raw = samples.summary("handler", "jwt_decode_plus_getitem")
    runs = max(3, min(50, pairs // 10))
    raw["handler_with_hooks"] = dynamodb_share(handler, pynamodb_clients(), runs)
    raw["irreducible_with_hooks"] = dynamodb_share(irreducible, [client], runs)
    # The same two, less their one GetItem round trip: the CPU work the backend's latency hides.
    # Lambda at 512 MB has about a third of a vCPU, so this part grows there; the round trip does not.
    outside = {
        name: round(raw[key]["median_ms"] - raw[key]["dynamodb_median_ms"], 3)
        for name, key in (("handler", "handler_with_hooks"), ("irreducible", "irreducible_with_hooks"))
    }
    raw["outside_dynamodb_ms"] = outside
    raw["outside_dynamodb_ratio"] = (
        round(outside["handler"] / outside["irreducible"], 3) if outside["irreducible"] > 0 else None
    )
    return Row(
        "authorizer warm overhead",
        samples.ratio,
        goal,
        f"handler {raw['handler_median_ms']:.3f} ms / jwt.decode+GetItem {raw['jwt_decode_plus_getitem_median_ms']:.3f} ms"
        f" (medians of {samples.n} interleaved pairs); besides the GetItem round trip: {outside['handler']:.2f} ms"
        f" vs {outside['irreducible']:.2f} ms",
        raw,
    )


def sign_in_cost(*, pairs: int, warmup: int, time_limit_s: float, goal: float) -> Row:
    """The sign-in handler (a successful sign-in) vs one Argon2id verify with the configured parameters."""
    from functions.sign_in import app as sign_in
    from sessiongate import models
    from sessiongate.passwords import Passwords

    passwords = Passwords()
    account = new_account(passwords, "signin")
    user = models.get_user(account.user_id)
    assert user is not None
    password_hash = user.password_hash
    context = FakeContext(function_name="SignInFunction", memory_limit_in_mb=1024)

    def handler() -> None:
        response = sign_in.lambda_handler(sign_in_event(account), context)
        if response["statusCode"] != 200:
            raise AssertionError(f"sign-in answered {response['statusCode']}: {response.get('body')}")

    def verify() -> None:
        if not passwords.verify(password_hash, account.password):
            raise AssertionError("verify failed")

    samples = interleave(handler, verify, pairs=pairs, warmup=warmup, time_limit_s=time_limit_s)
    raw = samples.summary("handler", "argon2id_verify")
    share = sign_in_breakdown(sign_in, handler, max(2, min(20, pairs // 3)))
    raw["handler_with_hooks"] = share
    raw["argon2_parameters"] = {
        "time_cost": passwords._hasher.time_cost,
        "memory_kib": passwords._hasher.memory_cost,
        "parallelism": passwords._hasher.parallelism,
    }
    return Row(
        "sign-in cost",
        samples.ratio,
        goal,
        f"handler {raw['handler_median_ms']:.2f} ms / Argon2id verify {raw['argon2id_verify_median_ms']:.2f} ms"
        f" (medians of {samples.n} interleaved pairs); inside the handler: verify {share['verify_median_ms']:.1f} ms,"
        f" {share['dynamodb_calls']} DynamoDB calls {share['dynamodb_median_ms']:.1f} ms,"
        f" the rest {share['rest_median_ms']:.1f} ms",
        raw,
    )


def sign_in_breakdown(module: Any, handler: Any, runs: int) -> dict[str, Any]:
    """Where one sign-in's time goes: the handler's own verify, its DynamoDB calls, and the rest
    (Powertools, pydantic, PynamoDB marshalling, tokens), each run timed from the inside."""
    real_verify = module.passwords.verify
    verify_ns: list[int] = []

    def timed_verify(password_hash: str, password: str) -> bool:
        t0 = time.perf_counter_ns()
        try:
            return real_verify(password_hash, password)
        finally:
            verify_ns.append(time.perf_counter_ns() - t0)

    totals, in_calls, verifies, rests = [], [], [], []
    calls_made = 0
    module.passwords.verify = timed_verify  # an instance attribute: `del` below restores the method
    try:
        with DynamoDBCalls(pynamodb_clients()) as calls:
            for _ in range(runs):
                calls.clear()
                verify_ns.clear()
                t0 = time.perf_counter_ns()
                handler()
                total = (time.perf_counter_ns() - t0) / 1e6
                made = calls.take()
                db = sum(c.duration_ms or 0.0 for c in made)
                verify = sum(verify_ns) / 1e6
                totals.append(total)
                in_calls.append(db)
                verifies.append(verify)
                rests.append(total - db - verify)
                calls_made = max(calls_made, len(made))
    finally:
        del module.passwords.verify
    return {
        "runs": runs,
        "median_ms": round(statistics.median(totals), 3),
        "verify_median_ms": round(statistics.median(verifies), 3),
        "dynamodb_median_ms": round(statistics.median(in_calls), 3),
        "dynamodb_calls": calls_made,
        "rest_median_ms": round(statistics.median(rests), 3),
    }


def enumeration_rows(*, pairs: int, warmup: int, time_limit_s: float, goal: float) -> list[Row]:
    """Failed sign-ins must not tell an attacker whether the email exists: the median time of
    each failure kind against a wrong password for a real account (reported as the larger
    of a/b and b/a, so the goal 0.9-1.1 reads as <= 1.1)."""
    import dataclasses

    from functions.sign_in import app as sign_in
    from sessiongate import models
    from sessiongate.passwords import Passwords

    passwords = Passwords()
    known, disabled = new_account(passwords, "enum-known"), new_account(passwords, "enum-disabled")
    user = models.get_user(disabled.user_id)
    assert user is not None
    models.update_user(user, disabled=True)
    unknown = Account(f"bench-nobody-{secrets.token_hex(4)}@example.com", "wrong-password-1", "")
    context = FakeContext(function_name="SignInFunction", memory_limit_in_mb=1024)

    def attempt(account: Account, password: str, expected: int) -> Any:
        def run() -> None:
            status = sign_in.lambda_handler(sign_in_event(account, password), context)["statusCode"]
            if status != expected:
                raise AssertionError(f"sign-in answered {status}, expected {expected}")

        return run

    original = sign_in.settings
    rows = []
    try:
        # Counting stays on (it is part of the cost), the lock out of reach.
        sign_in.settings = dataclasses.replace(original, max_failed_sign_ins=10**9)
        wrong = attempt(known, "not-the-password", 401)
        for name, other in (
            ("unknown email", attempt(unknown, "not-the-password", 401)),
            ("disabled user", attempt(disabled, disabled.password, 401)),
        ):
            samples = interleave(other, wrong, pairs=pairs, warmup=warmup, time_limit_s=time_limit_s)
            spread = max(samples.ratio, 1 / samples.ratio)
            raw = samples.summary(name.replace(" ", "_"), "wrong_password")
            rows.append(
                Row(
                    f"sign-in timing: {name} vs wrong password",
                    spread,
                    goal,
                    f"medians {raw[name.replace(' ', '_') + '_median_ms']:.2f} ms vs "
                    f"{raw['wrong_password_median_ms']:.2f} ms ({samples.n} interleaved pairs)",
                    raw,
                )
            )
        # Locked: both emails over the limit answer 429 without a password verify.
        sign_in.settings = dataclasses.replace(original, max_failed_sign_ins=1)
        locked_known, locked_unknown = attempt(known, "x-wrong-1", 429), attempt(unknown, "x-wrong-1", 429)
        samples = interleave(locked_unknown, locked_known, pairs=pairs, warmup=warmup, time_limit_s=time_limit_s)
        raw = samples.summary("locked_unknown", "locked_known")
        rows.append(
            Row(
                "sign-in timing: locked unknown vs locked known email",
                max(samples.ratio, 1 / samples.ratio),
                goal,
                f"medians {raw['locked_unknown_median_ms']:.2f} ms vs "
                f"{raw['locked_known_median_ms']:.2f} ms ({samples.n} interleaved pairs)",
                raw,
            )
        )
    finally:
        sign_in.settings = original
    return rows
