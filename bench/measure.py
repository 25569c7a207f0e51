"""Side-by-side timing (A B A B ..., medians) and DynamoDB request counting with botocore hooks."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
# The operations that accept ReturnConsumedCapacity (DescribeTable and friends do not).
CAPACITY_OPERATIONS = READ_OPERATIONS | WRITE_OPERATIONS


@dataclass
class Pairs:
    """Interleaved samples of two callables, in milliseconds."""

    a_ms: list[float]
    b_ms: list[float]

    @property
    def n(self) -> int:
        return len(self.a_ms)

    def summary(self, a_name: str, b_name: str) -> dict[str, Any]:
        ratios = [a / b for a, b in zip(self.a_ms, self.b_ms, strict=True) if b > 0]
        return {
            "n": self.n,
            f"{a_name}_median_ms": round(statistics.median(self.a_ms), 4),
            f"{b_name}_median_ms": round(statistics.median(self.b_ms), 4),
            f"{a_name}_p90_ms": round(quantile(self.a_ms, 0.9), 4),
            f"{b_name}_p90_ms": round(quantile(self.b_ms, 0.9), 4),
            "median_of_pair_ratios": round(statistics.median(ratios), 4) if ratios else None,
        }

    @property
    def ratio(self) -> float:
        return statistics.median(self.a_ms) / statistics.median(self.b_ms)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def interleave(
    a: Callable[[], object], b: Callable[[], object], *, pairs: int, warmup: int, time_limit_s: float
) -> Pairs:
    """Run a and b alternately (A B, then B A, ...) so drift and noise land on both alike.

    Bounded twice: at most `pairs` pairs, and no new pair after `time_limit_s`.
    """
    for _ in range(warmup):
        a()
        b()
    a_ms: list[float] = []
    b_ms: list[float] = []
    deadline = time.monotonic() + time_limit_s
    for i in range(pairs):
        if a_ms and time.monotonic() > deadline:
            break
        first, second = (a, b) if i % 2 == 0 else (b, a)
        t0 = time.perf_counter_ns()
        first()
        t1 = time.perf_counter_ns()
        second()
        t2 = time.perf_counter_ns()
        first_ms, second_ms = (t1 - t0) / 1e6, (t2 - t1) / 1e6
        if i % 2 == 0:
            a_ms.append(first_ms)
            b_ms.append(second_ms)
        else:
            b_ms.append(first_ms)
            a_ms.append(second_ms)
    return Pairs(a_ms, b_ms)


@dataclass
class Call:
    operation: str
    table: str | None
    conditional: bool
    consistent: bool
    started_ns: int = 0
    duration_ms: float | None = None  # before-call to after-call: the round trip and botocore's parsing
    consumed: float | None = None  # capacity units, when the backend reported them
    count: int | None = None  # items a Query/Scan returned
    scanned: int | None = None

    @property
    def kind(self) -> str:
        if self.operation in READ_OPERATIONS:
            return "read"
        if self.operation in WRITE_OPERATIONS:
            return "write"
        return "other"


@dataclass
class DynamoDBCalls:
    """Every DynamoDB API call made through the given botocore clients, seen by event hooks.

    `before-call.dynamodb` records one call per API call (retries are not new calls);
    `after-call.dynamodb` adds what the response says (ConsumedCapacity, Count). With
    `ask_capacity`, `before-parameter-build.dynamodb` sets ReturnConsumedCapacity=TOTAL
    on calls that did not ask for it (PynamoDB does not), so the backend can report it.
    """

    clients: Iterable[Any]
    ask_capacity: bool = False
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        unique = {id(c): c for c in self.clients}
        self.clients = list(unique.values())
        self._id = f"bench-calls-{id(self)}"

    def __enter__(self) -> DynamoDBCalls:
        for client in self.clients:
            events = client.meta.events
            events.register("before-call.dynamodb", self._before, unique_id=self._id + "-before")
            events.register("after-call.dynamodb", self._after, unique_id=self._id + "-after")
            if self.ask_capacity:
                events.register("before-parameter-build.dynamodb", self._ask, unique_id=self._id + "-ask")
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self.clients:
            events = client.meta.events
            events.unregister("before-call.dynamodb", unique_id=self._id + "-before")
            events.unregister("after-call.dynamodb", unique_id=self._id + "-after")
            events.unregister("before-parameter-build.dynamodb", unique_id=self._id + "-ask")

    def _ask(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b"{}"
        try:
            request = json.loads(body)
        except ValueError:
            request = {}
        call = Call(
            operation=model.name,
            table=request.get("TableName"),
            conditional="ConditionExpression" in request,
            consistent=bool(request.get("ConsistentRead")),
            started_ns=time.perf_counter_ns(),
        )
        with self._lock:
            self.calls.append(call)
        self._local.call = call

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        call = getattr(self._local, "call", None)
        if call is None or call.operation != model.name:
            return
        call.duration_ms = (time.perf_counter_ns() - call.started_ns) / 1e6
        consumed = parsed.get("ConsumedCapacity")
        if isinstance(consumed, dict):
            call.consumed = float(consumed.get("CapacityUnits", 0.0))
        elif isinstance(consumed, list) and consumed:
            call.consumed = float(sum(c.get("CapacityUnits", 0.0) for c in consumed))
        if model.name in ("Query", "Scan"):
            call.count = int(parsed.get("Count", len(parsed.get("Items", []))))
            call.scanned = int(parsed.get("ScannedCount", call.count))
        self._local.call = None

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def take(self) -> list[Call]:
        with self._lock:
            taken, self.calls = self.calls, []
        return taken


def summarize(calls: list[Call]) -> dict[str, Any]:
    """Reads, writes, the operations in order, and capacity (None when the backend reported none)."""
    reported = [c.consumed for c in calls if c.consumed is not None]
    return {
        "reads": sum(c.kind == "read" for c in calls),
        "writes": sum(c.kind == "write" for c in calls),
        "other": sum(c.kind == "other" for c in calls),
        "operations": [
            c.operation + ("(consistent)" if c.consistent else "") + ("(conditional)" if c.conditional else "")
            for c in calls
        ],
        "consumed_capacity_units": round(sum(reported), 3) if reported else None,
        "capacity_reported_for": f"{len(reported)}/{len(calls)} calls",
    }


def dynamodb_share(action: Callable[[], object], clients: Iterable[Any], runs: int) -> dict[str, Any]:
    """Run `action` `runs` times with the hooks on: its median time, and how much of it was DynamoDB calls."""
    totals: list[float] = []
    in_calls: list[float] = []
    counts: list[int] = []
    with DynamoDBCalls(clients) as calls:
        for _ in range(runs):
            calls.clear()
            t0 = time.perf_counter_ns()
            action()
            totals.append((time.perf_counter_ns() - t0) / 1e6)
            made = calls.take()
            in_calls.append(sum(c.duration_ms or 0.0 for c in made))
            counts.append(len(made))
    return {
        "runs": runs,
        "median_ms": round(statistics.median(totals), 3),
        "dynamodb_median_ms": round(statistics.median(in_calls), 3),
        "dynamodb_calls": max(counts),
    }
