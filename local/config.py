"""Settings of the local stack, from the environment and the command line."""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from local.template import default_table_names, repo_root

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
HOST = "127.0.0.1"
MIN_SECRET_BYTES = 32
BACKENDS = ("moto", "dynamodb-local")  # the DynamoDB the stack starts when AWS_ENDPOINT_URL_DYNAMODB is unset


class StartupError(Exception):
    """The stack cannot start; the message says why."""


@dataclass
class Settings:
    root: Path
    template_path: Path
    runtime_python: str
    port: int
    moto_port: int
    external_dynamodb: str | None
    backend: str
    dynamodb_local_port: int
    parameter_overrides: dict[str, str]
    auth_secret: str
    auth_secret_generated: bool
    demo_email: str
    demo_password: str
    demo_password_generated: bool
    sweep_interval: float
    table_names: dict[str, str]
    prewarm: bool
    verbose: bool

    @property
    def dynamodb_endpoint(self) -> str:
        if self.external_dynamodb:
            return self.external_dynamodb
        port = self.dynamodb_local_port if self.backend == "dynamodb-local" else self.moto_port
        return f"http://{HOST}:{port}"


def _int_env(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name) or str(default)
    try:
        return int(value)
    except ValueError:
        raise StartupError(f"{name}={value!r} is not an integer") from None


def parse_overrides(text: str) -> dict[str, str]:
    """PARAMETER_OVERRIDES with SAM CLI's own parser (same syntax as --parameter-overrides)."""
    import click
    from samcli.cli.types import CfnParameterOverridesType

    try:
        return {str(k): str(v) for k, v in CfnParameterOverridesType().convert(text, None, None).items()}
    except click.BadParameter as exc:
        raise StartupError(f"PARAMETER_OVERRIDES: {exc.format_message()}") from None


def load_settings(argv: list[str] | None, environ: Mapping[str, str]) -> tuple[Settings, argparse.Namespace]:
    root = repo_root()
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="The sessiongate stack on 127.0.0.1: moto or DynamoDB Local, the tables and a demo user, the API of template.yaml.",
        epilog="Environment: PORT, BACKEND (moto|dynamodb-local), MOTO_PORT, DYNAMODB_LOCAL_PORT, AUTH_SECRET, DEMO_EMAIL, DEMO_PASSWORD, PARAMETER_OVERRIDES, "
        "AWS_ENDPOINT_URL_DYNAMODB, SESSIONS_TABLE, USERS_TABLE, SWEEP_INTERVAL_SECONDS.",
    )
    parser.add_argument(
        "--runtime-python",
        default=environ.get("SESSIONGATE_RUNTIME_PYTHON", ".venv/bin/python"),
        help="interpreter of the runtime virtualenv (the layer's dependencies + moto); relative to the repo root",
    )
    parser.add_argument("--template", default="template.yaml", help="SAM template, relative to the repo root")
    parser.add_argument("--no-prewarm", action="store_true", help="no sandbox started before the first request")
    parser.add_argument("--verbose", action="store_true", help="also show moto's request log and debug lines")
    parser.add_argument("--write-env-json", action="store_true", help="write local/env.json from the template and exit")
    args = parser.parse_args(argv)

    runtime_python = args.runtime_python
    if not os.path.isabs(runtime_python):
        runtime_python = os.path.abspath(root / runtime_python)  # abspath, not resolve: keep the venv's symlink
    template_path = Path(args.template) if os.path.isabs(args.template) else root / args.template

    secret = environ.get("AUTH_SECRET") or ""
    demo_password = environ.get("DEMO_PASSWORD") or ""
    settings = Settings(
        root=root,
        template_path=template_path,
        runtime_python=runtime_python,
        port=_int_env(environ, "PORT", 3000),
        moto_port=_int_env(environ, "MOTO_PORT", 4566),
        external_dynamodb=environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
        backend=environ.get("BACKEND") or "moto",
        dynamodb_local_port=_int_env(environ, "DYNAMODB_LOCAL_PORT", 8000),
        parameter_overrides={},
        auth_secret=secret or secrets.token_urlsafe(48),
        auth_secret_generated=not secret,
        demo_email=environ.get("DEMO_EMAIL") or "demo@example.com",
        demo_password=demo_password or secrets.token_urlsafe(12),
        demo_password_generated=not demo_password,
        sweep_interval=float(environ.get("SWEEP_INTERVAL_SECONDS") or 60),
        table_names=default_table_names(environ),
        prewarm=not args.no_prewarm,
        verbose=args.verbose or environ.get("LOCAL_VERBOSE") == "1",
    )
    if settings.backend not in BACKENDS:
        raise StartupError(f"BACKEND={settings.backend!r}: expected one of {', '.join(BACKENDS)}")
    if len(settings.auth_secret.encode()) < MIN_SECRET_BYTES:
        raise StartupError(f"AUTH_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    return settings, args
