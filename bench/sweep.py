"""Sweeper read amplification: items the sweep's Query calls return per item it deletes.

The sessions table is filled with raw BatchWriteItem (boto3, 25 a request, a few
threads), 1% of the sessions expired within the sweeper's lookback, the rest live and
spread over the next 30 days (so today's buckets hold live and expired rows alike).
Then sessions.sweep runs once, with the botocore hooks counting what every Query returned.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.backend import raw_client, recreate_sessions_table
from bench.env import SESSIONS_TABLE, USERS_TABLE, set_environment
from bench.measure import DynamoDBCalls
from bench.report import Row

DAY = 86_400
# moto answers an index Query by walking every item of the table (about 6 s per Query at
# 100,000 rows on this kind of machine, and a sweep makes 128 of them), so on moto the
# sweeper rows default to sizes it holds in reasonable time; DynamoDB Local does 100,000.
MOTO_SIZES = (10_000, 1_000)
FULL_SIZES = (100_000, 10_000)
QUICK_SIZES = (1_000, 200)


def session_item(session_id: str, expires: int, now: int, user_index: int) -> dict[str, Any]:
    from sessiongate import models

    return {
        "id": {"S": session_id},
        "userId": {"S": f"user{user_index:06d}"},
        "sessionToken": {"S": secrets.token_hex(32)},
        "generation": {"N": "0"},
        "expires": {"N": str(expires)},
        "absoluteExpires": {"N": str(expires + 60 * DAY)},
        "createdAt": {"N": str(now - DAY)},
        "rotatedAt": {"N": str(now - DAY)},
        "expiryBucket": {"S": models.expiry_bucket(session_id, expires)},
        "role": {"S": "USER"},
        "email": {"S": f"user{user_index:06d}@example.com"},
        "userAgent": {"S": "Mozilla/5.0 (bench)"},
        "sourceIp": {"S": "203.0.113.10"},
    }


def seed(
    client: Any, table: str, total: int, expired_fraction: float, now: int, time_limit_s: float
) -> tuple[int, int]:
    """Write `total` sessions; return (written, expired written). Stops early at the time limit."""
    rng = random.Random(20260103)
    expired_every = max(1, round(1 / expired_fraction))
    items = []
    for i in range(total):
        if i % expired_every == 0:
            expires = now - rng.randint(60, 6 * DAY)  # inside the sweeper's 7-day lookback
        else:
            expires = now + rng.randint(60, 30 * DAY)
        items.append(session_item(secrets.token_urlsafe(32), expires, now, i % 20_000))
    expired = {item["id"]["S"] for item in items if int(item["expires"]["N"]) <= now}
    batches = [items[i : i + 25] for i in range(0, len(items), 25)]
    deadline = time.monotonic() + time_limit_s

    def write(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if time.monotonic() > deadline:
            return []
        pending = [{"PutRequest": {"Item": item}} for item in batch]
        for attempt in range(8):
            answer = client.batch_write_item(RequestItems={table: pending})
            pending = answer.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                return batch
            time.sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError(f"BatchWriteItem left {len(pending)} items unprocessed after retries")

    with ThreadPoolExecutor(max_workers=4) as pool:
        written = [item for done in pool.map(write, batches) for item in done]
    return len(written), sum(item["id"]["S"] in expired for item in written)


def sweep_once(now: int, time_limit_s: float) -> tuple[Any, dict[str, Any]]:
    from sessiongate import models, sessions

    client = models.Session._get_connection().connection.client
    deadline = time.monotonic() + time_limit_s
    with DynamoDBCalls([client]) as calls:
        started = time.perf_counter()
        report = sessions.sweep(now=now, time_left_ms=lambda: int((deadline - time.monotonic()) * 1000), reserve_ms=0)
        elapsed = time.perf_counter() - started
        made = calls.take()
    queries = [c for c in made if c.operation == "Query"]
    stats = {
        "query_requests": len(queries),
        "items_returned": sum(c.count or 0 for c in queries),
        "items_scanned": sum(c.scanned or 0 for c in queries),
        "delete_requests": sum(c.operation == "DeleteItem" for c in made),
        "other_requests": sorted({c.operation for c in made} - {"Query", "DeleteItem"}),
        "sweep_seconds": round(elapsed, 2),
    }
    return report, stats


def expired_left(client: Any, table: str, now: int, max_pages: int = 500) -> int:
    """Expired rows still in the table after the sweep (a Scan, for the check only; bounded)."""
    left, start = 0, None
    for _ in range(max_pages):
        page = client.scan(
            TableName=table,
            Select="COUNT",
            FilterExpression="#e <= :now",
            ExpressionAttributeNames={"#e": "expires"},
            ExpressionAttributeValues={":now": {"N": str(now)}},
            **({"ExclusiveStartKey": start} if start else {}),
        )
        left += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return left


def sweeper_row(
    client: Any,
    sessions_table: str,
    users_table: str,
    *,
    total: int,
    expired_fraction: float,
    goal: float,
    seed_limit_s: float,
    sweep_limit_s: float,
) -> Row:
    recreate_sessions_table(client, sessions_table, users_table)
    now = int(time.time())
    started = time.perf_counter()
    written, expired = seed(client, sessions_table, total, expired_fraction, now, seed_limit_s)
    seed_seconds = time.perf_counter() - started
    report, stats = sweep_once(now, sweep_limit_s)
    deleted = report.deleted
    stats["expired_left_after_sweep"] = expired_left(client, sessions_table, now)
    stats["sweep_skipped"] = int(getattr(report, "skipped", 0))  # extended after the index read, or gone
    # DynamoDB Local runs TTL on `expires` (as the template declares it): it may remove a few
    # expired rows before the sweeper reaches them. moto never does.
    stats["removed_before_sweep"] = expired - deleted - stats["expired_left_after_sweep"] - stats["sweep_skipped"]
    ratio = stats["items_returned"] / deleted if deleted else (0.0 if stats["items_returned"] == 0 else float("inf"))
    raw = {
        "sessions_requested": total,
        "sessions_written": written,
        "expired_written": expired,
        "seed_seconds": round(seed_seconds, 1),
        "deleted": deleted,
        "sweep_report": dataclasses.asdict(report),
        **stats,
    }
    detail = (
        f"{stats['items_returned']:,} read / {deleted:,} deleted of {written:,} sessions ({expired:,} expired);"
        f" {stats['query_requests']} Query + {stats['delete_requests']} DeleteItem requests,"
        f" sweep {stats['sweep_seconds']:.1f} s"
    )
    if written != total:
        detail += f"; seeding stopped at {written:,} of {total:,} (time limit)"
    if not report.complete:
        detail += f"; sweep incomplete after {report.buckets} buckets"
    if stats["expired_left_after_sweep"]:
        detail += f"; {stats['expired_left_after_sweep']} expired rows left"
    if stats["removed_before_sweep"] > 0:
        detail += f"; {stats['removed_before_sweep']} removed by the backend's TTL first"
    return Row(f"sweeper read amplification @ {written:,}", ratio, goal, detail, raw)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.sweep`: the sweeper rows in a process of their own (its own endpoint and
    tables), written as JSON to --result. Run by `python -m bench`."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m bench.sweep")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--goal", type=float, required=True)
    parser.add_argument("--seed-limit", type=float, default=900)
    parser.add_argument("--sweep-limit", type=float, default=1200)
    parser.add_argument("--label", default="")
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    set_environment(args.endpoint)
    client = raw_client(args.endpoint)
    rows = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        row = sweeper_row(
            client,
            SESSIONS_TABLE,
            USERS_TABLE,
            total=size,
            expired_fraction=0.01,
            goal=args.goal,
            seed_limit_s=args.seed_limit,
            sweep_limit_s=args.sweep_limit,
        )
        row.detail += f" [{args.label}]" if args.label else ""
        row.raw["backend"] = args.label
        rows.append(row.asdict())
    args.result.write_text(json.dumps(rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
