"""Cold start of the BUILT authorizer, as Lambda runs it, vs a process that only sets up botocore.

Each sample is a fresh interpreter (`python -I -S -B`): no site-packages, no user site,
no PYTHON* variables, and sys.path = the function's folder + the built layer's python/
+ the standard library, like /var/task and /opt/python in Lambda. -B: nothing is written
into the build, so what is measured is what the build ships (Lambda's /opt and /var/task
are read-only: a layer without .pyc is compiled again at every cold start). The
"with bytecode" variant primes a separate pycache_prefix once, then reads it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.report import Row
from local.template import load_template, parameter_values, repo_root

# Child programs. Both run with the same interpreter flags, sys.path and environment;
# the only difference is the work: import the handler and answer one event, or import
# botocore and create one DynamoDB client.
_PRELUDE = """
import json, os, sys, time
sys.path[:0] = os.environ["BENCH_SYS_PATH"].split(os.pathsep)
"""
AUTHORIZER_CHILD = (
    _PRELUDE
    + """
start = time.perf_counter()
import app
imported = time.perf_counter()
class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = "$LATEST"
    memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 5000
result = app.lambda_handler(json.loads(os.environ["BENCH_EVENT"]), Context())
done = time.perf_counter()
ok = result.get("principalId") == os.environ["BENCH_PRINCIPAL"]
sys.stderr.write("BENCH " + json.dumps({"ok": ok, "import_ms": (imported - start) * 1e3, "work_ms": (done - start) * 1e3}) + "\\n")
"""
)
BASELINE_CHILD = (
    _PRELUDE
    + """
start = time.perf_counter()
import botocore.session
client = botocore.session.get_session().create_client("dynamodb")
done = time.perf_counter()
sys.stderr.write("BENCH " + json.dumps({"ok": True, "import_ms": (done - start) * 1e3, "work_ms": (done - start) * 1e3}) + "\\n")
"""
)

_TABLE_REFS = {"SessionsTable": "SESSIONS_TABLE", "UsersTable": "USERS_TABLE"}


def lambda_environment(function_logical_id: str, memory: int, endpoint: str) -> dict[str, str]:
    """What Lambda would hand the function: the template's variables (Globals + its own,
    parameters at their defaults), AUTH_SECRET instead of the secret's ARN, the tables of
    this bench, the endpoint on loopback, and the variables the Lambda runtime sets."""
    template = load_template(repo_root() / "template.yaml")
    parameters = parameter_values(template)
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own_env = (
        template["Resources"][function_logical_id].get("Properties", {}).get("Environment", {}).get("Variables", {})
    )
    env: dict[str, str] = {}
    for name, value in {**globals_env, **own_env}.items():
        if isinstance(value, dict) and set(value) == {"Ref"}:
            ref = value["Ref"]
            if ref in _TABLE_REFS:
                env[name] = os.environ[_TABLE_REFS[ref]]
            elif ref in parameters:
                env[name] = parameters[ref]
            # other refs (the secret) have no local value
        elif isinstance(value, str | int | float):
            env[name] = str(value)
        # Fn::If for `sam local` only: not deployed, not here
    env.pop("AUTH_SECRET_ARN", None)
    env.update(
        {
            "AUTH_SECRET": os.environ["AUTH_SECRET"],
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": f"sessiongate-{function_logical_id}",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/sessiongate-{function_logical_id}",
            "LAMBDA_TASK_ROOT": "/var/task",
            "_HANDLER": "app.lambda_handler",
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }
    )
    return env


def tree_size(path: Path) -> tuple[int, int, int]:
    """(bytes, files, .pyc files) under path: the apparent size, what Lambda's 250 MB limit counts."""
    total = files = pyc = 0
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
                files += 1
                pyc += name.endswith(".pyc")
    return total, files, pyc


def disk_usage(path: Path) -> int:
    """Bytes on disk, as `du -s` counts them (blocks, directories included)."""
    used = 0
    for root, dirs, names in os.walk(path):
        for name in [*names, *dirs]:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                used += os.lstat(full).st_blocks * 512
    return used + os.lstat(path).st_blocks * 512


def biggest_packages(layer_python: Path, top: int = 8) -> dict[str, float]:
    sizes = {}
    for entry in layer_python.iterdir():
        if entry.name.endswith(".dist-info"):
            continue
        sizes[entry.name] = (tree_size(entry)[0] if entry.is_dir() else entry.stat().st_size) / 1e6
    return {name: round(mb, 2) for name, mb in sorted(sizes.items(), key=lambda kv: -kv[1])[:top]}


class Children:
    def __init__(self, build: Path, env: dict[str, str], pycache: Path | None) -> None:
        self.function_dir = build / "AuthorizerFunction"
        self.layer_python = build / "SessionGateLayer" / "python"
        self.env = {**env, "BENCH_SYS_PATH": os.pathsep.join([str(self.function_dir), str(self.layer_python)])}
        self.pycache = pycache

    def argv(self, code: str, *, write_bytecode: bool = False, extra: tuple[str, ...] = ()) -> list[str]:
        flags = ["-I", "-S"]
        if not write_bytecode:
            flags.append("-B")
        if self.pycache is not None:
            flags += ["-X", f"pycache_prefix={self.pycache}"]
        return [sys.executable, *flags, *extra, "-c", code]

    def run(self, code: str, *, write_bytecode: bool = False, extra: tuple[str, ...] = ()) -> tuple[float, dict, str]:
        started = time.perf_counter()
        done = subprocess.run(
            self.argv(code, write_bytecode=write_bytecode, extra=extra),
            cwd=self.function_dir,  # Lambda starts in /var/task
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        wall_ms = (time.perf_counter() - started) * 1e3
        report = next((line[6:] for line in reversed(done.stderr.splitlines()) if line.startswith("BENCH ")), None)
        if done.returncode != 0 or report is None:
            raise RuntimeError(f"cold-start child failed ({done.returncode}):\n{done.stderr[-3000:]}")
        parsed = json.loads(report)
        if not parsed["ok"]:
            raise RuntimeError(
                f"cold-start authorizer did not allow the token:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return wall_ms, parsed, done.stderr


def import_breakdown(stderr: str, layer_python: Path, top: int = 12) -> dict[str, Any]:
    """From `-X importtime`: self time per top-level package (ms), and the slowest modules (cumulative)."""
    per_package: dict[str, float] = defaultdict(float)
    modules = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if not match:
            continue
        self_us, cumulative_us, indent, name = int(match[1]), int(match[2]), len(match[3]), match[4]
        per_package[name.split(".")[0]] += self_us / 1e3
        modules.append((cumulative_us / 1e3, indent // 2, name))
    top_level = sorted(per_package.items(), key=lambda kv: -kv[1])[:top]
    slowest = sorted(modules, reverse=True)[:top]
    return {
        "self_ms_by_package": {name: round(ms, 1) for name, ms in top_level},
        "slowest_cumulative_ms": [{"module": name, "depth": depth, "ms": round(ms, 1)} for ms, depth, name in slowest],
        "total_self_ms": round(sum(per_package.values()), 1),
    }


def cold_start_rows(
    build: Path, endpoint: str, token: str, principal: str, *, reps: int, goal: float, detailed: bool = True
) -> list[Row]:
    """Two rows: the build as it is, and the same build with bytecode (what shipping .pyc would give).

    `detailed` (not in --quick) adds an untimed first round and an `-X importtime` breakdown.
    """
    function_dir = build / "AuthorizerFunction"
    layer = build / "SessionGateLayer"
    if not (function_dir / "app.py").is_file() or not (layer / "python").is_dir():
        reason = f"no build at {build} (run `make build`)"
        return [
            Row("authorizer cold start (as built)", None, goal, reason),
            Row("authorizer cold start (with .pyc)", None, goal, reason),
        ]
    layer_bytes, layer_files, layer_pyc = tree_size(layer)
    function_bytes, _, function_pyc = tree_size(function_dir)
    env = lambda_environment("AuthorizerFunction", 512, endpoint)
    event = json.loads((repo_root() / "events" / "authorizer_token.json").read_text(encoding="utf-8"))
    event["authorizationToken"] = f"Bearer {token}"
    env.update({"BENCH_EVENT": json.dumps(event), "BENCH_PRINCIPAL": principal})
    layer_info = {
        "layer_mb": round(layer_bytes / 1e6, 2),
        "layer_du_mb": round(disk_usage(layer) / 1e6, 2),
        "layer_files": layer_files,
        "layer_pyc_files": layer_pyc,
        "function_kb": round(function_bytes / 1e3, 1),
        "function_pyc_files": function_pyc,
        "biggest_layer_packages_mb": biggest_packages(layer / "python"),
    }
    rows = []
    pycache_dir = Path(tempfile.mkdtemp(prefix="sessiongate-bench-pyc-"))
    try:
        for label, pycache in (("as built", None), ("with .pyc", pycache_dir)):
            children = Children(build, env, pycache)
            if pycache is not None:  # prime: compile what each child imports, once, outside the build
                children.run(AUTHORIZER_CHILD, write_bytecode=True)
                children.run(BASELINE_CHILD, write_bytecode=True)
            elif detailed:  # one untimed round so the file cache is warm for both
                children.run(AUTHORIZER_CHILD)
                children.run(BASELINE_CHILD)
            authorizer_ms: list[float] = []
            baseline_ms: list[float] = []
            inside_import: list[float] = []
            inside_work: list[float] = []
            inside_base: list[float] = []
            for i in range(reps):
                order = ((AUTHORIZER_CHILD, authorizer_ms), (BASELINE_CHILD, baseline_ms))
                for code, sink in order if i % 2 == 0 else order[::-1]:
                    wall, report, _ = children.run(code)
                    sink.append(wall)
                    if code is AUTHORIZER_CHILD:
                        inside_import.append(report["import_ms"])
                        inside_work.append(report["work_ms"])
                    else:
                        inside_base.append(report["work_ms"])
            importtime = children.run(AUTHORIZER_CHILD, extra=("-X", "importtime"))[2] if detailed else ""
            a, b = statistics.median(authorizer_ms), statistics.median(baseline_ms)
            raw = {
                "n": reps,
                "authorizer_process_median_ms": round(a, 2),
                "botocore_client_process_median_ms": round(b, 2),
                "authorizer_in_process_import_median_ms": round(statistics.median(inside_import), 2),
                "authorizer_in_process_import_and_event_median_ms": round(statistics.median(inside_work), 2),
                "botocore_in_process_import_and_client_median_ms": round(statistics.median(inside_base), 2),
                "interpreter_flags": children.argv("")[1:-2],
                "imports": import_breakdown(importtime, layer / "python") if detailed else None,
                **layer_info,
            }
            detail = (
                f"process {a:.0f} ms / botocore+client process {b:.0f} ms (medians of {reps} each, interleaved)"
                f"; layer {layer_info['layer_mb']:.1f} MB ({layer_info['layer_du_mb']:.0f} MB du), {layer_pyc} .pyc"
            )
            if pycache is not None:
                detail = f"process {a:.0f} ms / {b:.0f} ms with bytecode primed outside the build"
            rows.append(Row(f"authorizer cold start ({label})", a / b, goal, detail, raw))
    finally:
        shutil.rmtree(pycache_dir, ignore_errors=True)
    return rows
