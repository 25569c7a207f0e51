"""The function environment of the bench's own process (and its sweeper child), set before any
sessiongate import: PynamoDB binds table names at class creation, handlers load settings at import."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSIONS_TABLE = "bench-sessions"
USERS_TABLE = "bench-users"


def set_environment(endpoint: str, auth_secret: str | None = None) -> None:
    for name in ("AUTH_SECRET_ARN", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "SESSIONS_TABLE": SESSIONS_TABLE,
            "USERS_TABLE": USERS_TABLE,
            "AUTH_SECRET": auth_secret or os.environ.get("BENCH_AUTH_SECRET") or secrets.token_urlsafe(48),
            "POWERTOOLS_SERVICE_NAME": "sessiongate",
            "POWERTOOLS_METRICS_NAMESPACE": "SessionGate",
            # Tracing is Active in the template; here the X-Ray SDK would only send UDP to nobody.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "LOG_LEVEL": "INFO",
        }
    )
    for path in (str(ROOT / "layers" / "sessiongate"), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
