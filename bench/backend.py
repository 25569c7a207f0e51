"""The DynamoDB the bench measures against: a moto server in its own process on 127.0.0.1.

Its own process, so moto's work never shares the bench's interpreter (GIL) and the
cold-start children can reach it too. It stops when the bench closes its stdin or dies.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import urllib.parse
from typing import Any

import boto3
from botocore.config import Config

from local.template import create_tables, load_template, repo_root

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

_MOTO = """
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request costs moto time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # EOF: the bench is done (or gone)
server.stop()
"""


class MotoServer:
    """moto[server] in a child process; `endpoint` once started. Stopped by its PID only."""

    def __init__(self, python: str = sys.executable, start_timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(
            [python, "-c", _MOTO],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], start_timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"moto server did not start within {start_timeout:.0f} s")
        self.endpoint = f"http://127.0.0.1:{int(line)}"

    def stop(self, grace: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        try:
            if self.process.stdin:
                self.process.stdin.close()
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(grace)


def check_loopback(endpoint: str) -> str:
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise SystemExit(f"--endpoint must be a loopback address (127.0.0.1, localhost, ::1), got {endpoint!r}")
    return endpoint.rstrip("/")


def raw_client(endpoint: str) -> Any:
    """A plain boto3 DynamoDB client (no PynamoDB) on the bench's endpoint."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=120),
    )


def create_bench_tables(client: Any, sessions_table: str, users_table: str) -> None:
    """The two tables exactly as template.yaml declares them (keys, indexes, TTL)."""
    template = load_template(repo_root() / "template.yaml")
    create_tables(client, template, {"SessionsTable": sessions_table, "UsersTable": users_table})


def recreate_sessions_table(client: Any, sessions_table: str, users_table: str) -> None:
    """Drop the sessions table (with whatever earlier rows left in it) and create it anew."""
    try:
        client.delete_table(TableName=sessions_table)
        client.get_waiter("table_not_exists").wait(
            TableName=sessions_table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    except client.exceptions.ResourceNotFoundException:
        pass
    create_bench_tables(client, sessions_table, users_table)
