"""Shared test setup. The environment is fixed here, before any sessiongate import:
PynamoDB binds table names at class creation and handlers load settings at import."""

from __future__ import annotations

import os

TEST_SECRET = "test-signing-secret-that-is-long-enough-0123456789"

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "SESSIONS_TABLE": "test-sessions",
        "USERS_TABLE": "test-users",
        "AUTH_SECRET": TEST_SECRET,
        "POWERTOOLS_SERVICE_NAME": "sessiongate",
        "POWERTOOLS_METRICS_NAMESPACE": "SessionGate",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "LOG_LEVEL": "INFO",
        # moto on a 2-core CI box under a full test run can take seconds to answer.
        "DYNAMODB_TIMEOUT_SECONDS": "20",
    }
)
os.environ.pop("AUTH_SECRET_ARN", None)
os.environ.pop("AWS_ENDPOINT_URL", None)
