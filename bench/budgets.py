"""DynamoDB requests per operation through the real handlers, counted with botocore hooks.

Deterministic: each scenario runs once on its own account and the calls it made are
read off the PynamoDB connection clients (`before-call.dynamodb`). Capacity is asked
for (ReturnConsumedCapacity=TOTAL, which PynamoDB never sets) and shown where the
backend reports it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.measure import DynamoDBCalls, summarize
from bench.report import Row
from bench.warm import ARN, Account, new_account, pynamodb_clients, sign_in_event
from tests.helpers import FakeContext, proxy_event, response_json, token_event


@dataclass(frozen=True)
class Budget:
    reads: int
    writes: int
    why: str


# The per-operation budgets of the issue "Make sessiongate's cost follow its work".
BUDGETS = {
    "authorizer": Budget(1, 0, "one consistent GetItem, no write"),
    "sign-in ok": Budget(2, 3, "email claim + user; reserve the attempt, give it back, PutItem"),
    "sign-in ok after failures": Budget(2, 3, "the same as any success"),
    "sign-in failed (first failure)": Budget(2, 1, "one write: the reserved attempt stays counted"),
    "sign-in failed (repeated)": Budget(2, 1, "one write: the reserved attempt stays counted"),
    "sign-in failed (unknown email)": Budget(2, 1, "one write: the reserved attempt stays counted"),
    "refresh": Budget(1, 1, "one GetItem + one conditional UpdateItem"),
    "sign-out": Budget(0, 1, "one DeleteItem"),
}


def budget_ratio(reads: int, writes: int, budget: Budget) -> float:
    def part(used: int, allowed: int) -> float:
        if allowed == 0:
            return 0.0 if used == 0 else math.inf
        return used / allowed

    return max(part(reads, budget.reads), part(writes, budget.writes))


def run_scenarios() -> dict[str, tuple[list[Any], Any]]:
    """name -> (the calls it made, its result). Setup calls are not counted."""
    from functions.authorizer import app as authorizer
    from functions.rotate import app as rotate
    from functions.sign_in import app as sign_in
    from functions.sign_out import app as sign_out
    from sessiongate.passwords import Passwords

    passwords = Passwords()
    context = FakeContext()
    results: dict[str, tuple[list[Any], Any]] = {}
    with DynamoDBCalls(pynamodb_clients(), ask_capacity=True) as calls:

        def measure(name: str, action: Callable[[], Any]) -> Any:
            calls.clear()
            result = action()
            results[name] = (calls.take(), result)
            return result

        account = new_account(passwords, "budget")
        signed = measure("sign-in ok", lambda: sign_in.lambda_handler(sign_in_event(account), context))
        tokens = response_json(signed)
        if signed["statusCode"] != 200:
            raise AssertionError(f"sign-in failed: {signed}")

        policy = measure(
            "authorizer",
            lambda: authorizer.lambda_handler(token_event(f"Bearer {tokens['accessToken']}", ARN), context),
        )
        refreshed = measure(
            "refresh",
            lambda: rotate.lambda_handler(
                proxy_event("refresh", body={"refreshToken": tokens["refreshToken"]}), context
            ),
        )
        if refreshed["statusCode"] != 200:
            raise AssertionError(f"refresh failed: {refreshed}")
        authorizer_context = {"principalId": policy["principalId"], **policy["context"]}
        signed_out = measure(
            "sign-out", lambda: sign_out.lambda_handler(proxy_event("sign_out", authorizer=authorizer_context), context)
        )
        if signed_out["statusCode"] != 204:
            raise AssertionError(f"sign-out failed: {signed_out}")

        failing = new_account(passwords, "failing")
        for name in ("sign-in failed (first failure)", "sign-in failed (repeated)"):
            answer = measure(name, lambda: sign_in.lambda_handler(sign_in_event(failing, "wrong password!"), context))
            if answer["statusCode"] != 401:
                raise AssertionError(f"{name}: {answer}")
        answer = measure("sign-in ok after failures", lambda: sign_in.lambda_handler(sign_in_event(failing), context))
        if answer["statusCode"] != 200:
            raise AssertionError(f"sign-in after failures: {answer}")

        ghost = Account(f"ghost-{int(time.time() * 1000)}@example.com", "whatever-password", user_id="")
        answer = measure(
            "sign-in failed (unknown email)", lambda: sign_in.lambda_handler(sign_in_event(ghost), context)
        )
        if answer["statusCode"] != 401:
            raise AssertionError(f"unknown email: {answer}")
    return results


def request_rows(backend: str) -> list[Row]:
    results = run_scenarios()
    rows = []
    for name, budget in BUDGETS.items():
        made, _ = results[name]
        counts = summarize(made)
        ratio = budget_ratio(counts["reads"], counts["writes"], budget)
        capacity = counts["consumed_capacity_units"]
        capacity_text = (
            f"{capacity:g} CU reported by {backend} ({counts['capacity_reported_for']})"
            if capacity is not None
            else "capacity n/a"
        )
        rows.append(
            Row(
                f"requests: {name}",
                ratio,
                1.0,
                f"{counts['reads']}R {counts['writes']}W (budget {budget.reads}R {budget.writes}W)"
                f" {' '.join(counts['operations'])}; {capacity_text}",
                {**counts, "budget": {"reads": budget.reads, "writes": budget.writes, "why": budget.why}},
            )
        )
    return rows
