"""Events, Lambda contexts and small matchers shared by the test tiers."""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A real-shaped event from events/ (the same files feed `sam local invoke -e`)."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


@dataclass
class FakeContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/12/03/[$LATEST]test"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def proxy_event(
    name: str,
    *,
    body: Any = None,
    raw_body: str | None = None,
    base64_body: bool = False,
    authorizer: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    event = load_event(name)
    if body is not None:
        raw_body = json.dumps(body)
    if raw_body is not None:
        event["body"] = base64.b64encode(raw_body.encode()).decode() if base64_body else raw_body
        event["isBase64Encoded"] = base64_body
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    for key, value in (headers or {}).items():
        event["headers"][key] = value
        event.setdefault("multiValueHeaders", {})[key] = [value]
    return event


def token_event(header: Any, method_arn: str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/me"):
    event = load_event("authorizer_token")
    event["authorizationToken"] = header
    event["methodArn"] = method_arn
    return event


def request_event(
    headers: dict[str, Any] | None,
    method_arn: str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/me",
) -> dict[str, Any]:
    """A REST REQUEST authorizer event with exactly these headers (multiValueHeaders to match)."""
    event = load_event("authorizer_request")
    event["methodArn"] = method_arn
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()} if headers is not None else None
    return event


def http_api_event(
    headers: dict[str, Any] | None,
    route_arn: str = "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/me",
    cookies: Any = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 authorizer event with exactly these headers and cookies."""
    event = load_event("authorizer_http_api")
    event["routeArn"] = route_arn
    event["headers"] = headers
    if cookies is None:
        event.pop("cookies", None)
    else:
        event["cookies"] = cookies
    return event


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation of an authorizer policy for one method ARN: an explicit Deny wins,
    otherwise any Allow whose Resource matches (`*` spans any characters, `/` included)."""
    statements = policy["policyDocument"]["Statement"]

    def matches(statement: dict[str, Any]) -> bool:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        return any(fnmatch.fnmatchcase(method_arn, pattern) for pattern in resources)

    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statements)
