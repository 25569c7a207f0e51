"""`python -m bench --quick` runs end to end and produces every row (a smoke test: no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from local.template import repo_root

EXPECTED_ROWS = [
    "authorizer warm overhead",
    "requests: authorizer",
    "requests: sign-in ok",
    "requests: sign-in ok after failures",
    "requests: sign-in failed (first failure)",
    "requests: sign-in failed (repeated)",
    "requests: sign-in failed (unknown email)",
    "requests: refresh",
    "requests: sign-out",
    "authorizer cold start (as built)",
    "authorizer cold start (with .pyc)",
    "sign-in cost",
    "sign-in timing: unknown email vs wrong password",
    "sign-in timing: disabled user vs wrong password",
    "sign-in timing: locked unknown vs locked known email",
]


@pytest.mark.skipif(
    (os.environ.get("SESSIONGATE_BACKEND") or "moto") != "moto",
    reason="the bench starts its own moto server: it runs once, in the moto pass",
)
def test_quick_bench_produces_every_row(tmp_path):
    root = repo_root()
    out = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    document = json.loads(out.read_text())
    names = [row["name"] for row in document["rows"]]
    for expected in EXPECTED_ROWS:
        assert expected in names
    assert sum(name.startswith("sweeper read amplification @ ") for name in names) == 2
    built = (root / ".aws-sam" / "build" / "AuthorizerFunction" / "app.py").is_file()
    for row in document["rows"]:
        assert {"name", "ratio", "goal", "met", "raw"} <= row.keys()
        assert isinstance(row["met"], bool)
        if built or "cold start" not in row["name"]:
            assert row["ratio"] is not None or row["ratio_is_infinite"], row
        assert row["name"] in done.stdout  # the printed table has the same rows
