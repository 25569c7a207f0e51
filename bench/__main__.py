"""python -m bench [--quick]: sessiongate's cost as ratios, one table on stdout and bench/results/latest.json.

Every row is measured side by side in this one run: A (sessiongate) and B (the
irreducible work it stands for) alternate, and the ratio is of their medians. All
traffic stays on 127.0.0.1: a moto server this command starts (and stops, by PID),
DynamoDB Local for the big sweeper tables when it is installed (`make ddblocal`), or
the loopback DynamoDB given with --endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.env import ROOT, SESSIONS_TABLE, USERS_TABLE, set_environment

GOALS = {"authorizer": 1.25, "cold": 1.3, "sweeper": 1.1, "sign-in": 1.2, "enumeration": 1.1}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke mode: few samples, small tables, moto only")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json", help="JSON output")
    parser.add_argument("--build", type=Path, default=ROOT / ".aws-sam" / "build", help="`sam build` output")
    parser.add_argument("--endpoint", help="a DynamoDB on loopback to use for every row instead of starting moto")
    parser.add_argument(
        "--sweep-backend",
        choices=("auto", "moto", "dynamodb-local"),
        default="auto",
        help="DynamoDB for the sweeper rows (auto: DynamoDB Local when installed, except in --quick)",
    )
    parser.add_argument("--sweep-sizes", help="comma-separated table sizes for the sweeper rows")
    return parser.parse_args(argv)


def dynamodb_local_problem() -> str | None:
    """None when DynamoDB Local can be started on loopback here, else why not."""
    try:
        from local.dynamodb_local import find_jar, find_java, has_compiler
    except ImportError as exc:
        return f"local.dynamodb_local unavailable ({exc})"
    try:
        find_jar()
        if not has_compiler(find_java()):
            return "DynamoDB Local needs a JDK to bind 127.0.0.1 only"
    except Exception as exc:  # noqa: BLE001 - DynamoDBLocalError and friends: just say why
        return str(exc).splitlines()[0]
    return None


def dynamodb_local_label() -> str:
    from local.dynamodb_local import find_jar

    return f"DynamoDB Local {find_jar().parent.name.removeprefix('dynamodb_local_')}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quick = args.quick
    out = sys.stdout
    started = time.monotonic()
    set_environment("http://127.0.0.1:9")  # the real endpoint is set below, before any sessiongate import
    from bench.backend import MotoServer, check_loopback, create_bench_tables, raw_client
    from bench.report import Row, print_table, row_from_dict, write_json

    notes: list[str] = []
    moto = None
    if args.endpoint:
        endpoint = check_loopback(args.endpoint)
        backend = f"DynamoDB at {endpoint}"
    else:
        moto = MotoServer()
        endpoint = moto.endpoint
        import moto as moto_package

        backend = f"moto {moto_package.__version__} server on {endpoint}"
    rows: list[Row] = []
    try:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        create_bench_tables(raw_client(endpoint), SESSIONS_TABLE, USERS_TABLE)
        # The handlers log and publish metrics on stdout, as in Lambda; the table keeps the real one.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the run
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        from bench import budgets, warm

        rows.append(
            warm.authorizer_overhead(
                endpoint,
                pairs=40 if quick else 600,
                warmup=5 if quick else 50,
                time_limit_s=10 if quick else 180,
                goal=GOALS["authorizer"],
            )
        )
        rows.extend(budgets.request_rows("moto" if moto else "the backend"))
        rows.extend(cold_rows(args.build, endpoint, reps=1 if quick else 15, detailed=not quick))
        # Sign-in is timed before the sweeper rows fill (and replace) the sessions table, printed after them.
        sign_in = warm.sign_in_cost(
            pairs=4 if quick else 60,
            warmup=1 if quick else 5,
            time_limit_s=10 if quick else 180,
            goal=GOALS["sign-in"],
        )
        enumeration = warm.enumeration_rows(
            pairs=4 if quick else 40,
            warmup=1 if quick else 3,
            time_limit_s=10 if quick else 120,
            goal=GOALS["enumeration"],
        )
        rows.extend(sweeper_rows(args, endpoint, notes, row_from_dict))
        rows.append(sign_in)
        rows.extend(enumeration)
    finally:
        if sys.stdout is not out:
            sys.stdout.close()
            sys.stdout = out
        if moto is not None:
            moto.stop()

    elapsed = time.monotonic() - started
    print_table(rows, f"sessiongate bench ({'quick' if quick else 'full'}; {backend}; {elapsed:.0f} s)", out)
    for note in notes:
        out.write(f"note: {note}\n")
    meta = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "backend": backend,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "elapsed_seconds": round(elapsed, 1),
        "notes": [
            "time ratios are ratios of medians; A and B alternate (A B, B A, ...) in one run",
            "request rows: ratio = requests made / budget (reads and writes, the larger); counted with"
            " before-call.dynamodb on the PynamoDB clients of Session, User and EmailClaim",
            "capacity: asked with ReturnConsumedCapacity=TOTAL; moto answers fixed values per operation"
            " (GetItem and UpdateItem 0.5, PutItem, DeleteItem and Query 1.0), not DynamoDB's size- and"
            " consistency-based units",
            *notes,
        ],
    }
    write_json(args.out, rows, meta)
    out.write(f"wrote {args.out}\n")
    return 0


def cold_rows(build: Path, endpoint: str, reps: int, detailed: bool) -> list[Any]:
    """A live session for the cold-start children to authorize, then the cold-start rows."""
    from bench import cold, warm
    from sessiongate import sessions
    from sessiongate.config import load_settings
    from sessiongate.keys import KeyProvider
    from sessiongate.passwords import Passwords

    settings = load_settings()
    passwords = Passwords()
    account = warm.new_account(passwords, "cold")
    issued = sessions.sign_in(
        settings,
        KeyProvider(settings).current(),
        passwords,
        email=account.email,
        password=account.password,
        user_agent="bench",
        source_ip="127.0.0.1",
        now=int(time.time()),
    )
    return cold.cold_start_rows(
        build, endpoint, issued.access_token, account.user_id, reps=reps, goal=GOALS["cold"], detailed=detailed
    )


def sweeper_rows(args: argparse.Namespace, endpoint: str, notes: list[str], row_from_dict: Any) -> list[Any]:
    """The sweeper rows, in a child process (`python -m bench.sweep`) on the chosen DynamoDB."""
    from bench import sweep

    choice = args.sweep_backend
    if args.endpoint:
        choice = "given"
    elif choice == "auto":
        problem = None if not args.quick else "quick mode"
        problem = problem or dynamodb_local_problem()
        choice = "moto" if problem else "dynamodb-local"
        if problem and not args.quick:
            notes.append(f"sweeper on moto, not DynamoDB Local: {problem}")
    if args.sweep_sizes:
        sizes = [int(s) for s in args.sweep_sizes.split(",") if s.strip()]
    elif args.quick:
        sizes = list(sweep.QUICK_SIZES)
    elif choice == "moto":
        sizes = list(sweep.MOTO_SIZES)
        notes.append(
            "sweeper @ 100,000 not run on moto: moto walks the whole table for every index Query"
            " (~6 s per Query at 100,000 rows, 128 Queries per sweep); measured at 10,000 and 1,000"
            " (install DynamoDB Local with `make ddblocal` for the 100,000 row)"
        )
    else:
        sizes = list(sweep.FULL_SIZES)

    ddb = None
    label = (
        "moto" if choice == "moto" else "DynamoDB Local" if choice == "dynamodb-local" else f"DynamoDB at {endpoint}"
    )
    sweep_endpoint = endpoint
    if choice == "dynamodb-local":
        from local.dynamodb_local import DynamoDBLocal

        # A bigger heap and the full JIT: 100,000 rows, not the tests' handful.
        ddb = DynamoDBLocal(environ={**os.environ, "DYNAMODB_LOCAL_JAVA_OPTS": "-XX:+UseSerialGC -Xmx1g"})
        sweep_endpoint = ddb.start()
        label = dynamodb_local_label()
    seed_limit, sweep_limit = (60, 60) if args.quick else (900, 1200)
    try:
        with tempfile.TemporaryDirectory(prefix="sessiongate-bench-") as scratch:
            result = Path(scratch) / "sweep.json"
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.sweep",
                    "--endpoint",
                    sweep_endpoint,
                    "--sizes",
                    ",".join(map(str, sizes)),
                    "--goal",
                    str(GOALS["sweeper"]),
                    "--seed-limit",
                    str(seed_limit),
                    "--sweep-limit",
                    str(sweep_limit),
                    "--label",
                    label,
                    "--result",
                    str(result),
                ],
                cwd=ROOT,
                env={**os.environ, "BENCH_AUTH_SECRET": os.environ["AUTH_SECRET"]},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=len(sizes) * (seed_limit + sweep_limit + 300),
                check=False,
            )
            if done.returncode != 0 or not result.is_file():
                raise RuntimeError(f"bench.sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
            return [row_from_dict(row) for row in json.loads(result.read_text(encoding="utf-8"))]
    finally:
        if ddb is not None:
            ddb.stop()


if __name__ == "__main__":
    sys.exit(main())
