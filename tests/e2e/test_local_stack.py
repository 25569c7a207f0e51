"""The local stack itself: routing, API Gateway's authorizer semantics, sandboxes, tables, lifecycle."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.template import table_resources
from tests.e2e.conftest import REPO, LocalStack

pytestmark = pytest.mark.e2e

SESSIONS, USERS = "sessiongate-sessions", "sessiongate-users"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def authorizer_function(stack: LocalStack) -> str:
    """Logical id of the function behind the API's authorizer, read from the template."""
    for resource in stack.template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Api":
            for spec in resource["Properties"]["Auth"]["Authorizers"].values():
                arn = spec["FunctionArn"]
                if "Fn::If" in arn:  # the SnapStart choice: the unqualified function is the local default
                    arn = arn["Fn::If"][2]
                return arn["Fn::GetAtt"][0]
    raise AssertionError("no authorizer in the template")


def api_properties(stack: LocalStack) -> dict[str, Any]:
    return next(r["Properties"] for r in stack.template["Resources"].values() if r["Type"] == "AWS::Serverless::Api")


def gateway_response(stack: LocalStack, response_type: str, default_status: int) -> tuple[int, Any]:
    """What the template says API Gateway answers for a response type (its own entry, else DEFAULT_4XX)."""
    responses = api_properties(stack).get("GatewayResponses") or {}
    spec = responses.get(response_type)
    status = int(spec["StatusCode"]) if spec and spec.get("StatusCode") else default_status
    spec = spec or responses.get("DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX")
    if not spec:
        return status, None
    return status, spec["ResponseTemplates"]["application/json"]


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def dynamodb(stack: LocalStack):
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# -- the stack from the repository's template ------------------------------------------------


def test_banner_prints_what_a_developer_needs(stack: LocalStack) -> None:
    # Given the stack started with a known secret and demo password
    log = stack.log()
    # Then it printed the URL, the demo credentials, the secret, the DynamoDB endpoint and three curl lines
    assert stack.base_url in log
    assert stack.demo_email in log and stack.demo_password in log
    assert stack.auth_secret in log
    assert stack.dynamodb_endpoint in log
    assert len(re.findall(r"^  curl ", log, re.MULTILINE)) == 3
    assert f"sessiongate local stack ready on {stack.base_url}" in log


def test_unknown_route_gets_api_gateways_missing_authentication_token(stack: LocalStack) -> None:
    # When a path (or a method) that no Api event declares is requested
    expected_status, template = gateway_response(stack, "MISSING_AUTHENTICATION_TOKEN", 403)
    for method, path in (("GET", "/no/such/route"), ("DELETE", "/me")):
        status, headers, body = stack.request(method, path)
        # Then API Gateway answers it itself, with the template's gateway response
        assert status == expected_status, body
        assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        if template:
            expected = json.loads(template.replace("$context.error.messageString", '"Missing Authentication Token"'))
            assert body == expected
        else:
            assert body == {"message": "Missing Authentication Token"}


def test_protected_route_without_token_is_401_without_calling_the_authorizer(stack: LocalStack) -> None:
    # Given the authorizer's invocation count
    authorizer = authorizer_function(stack)
    before = stack.invocations(authorizer)
    # When /me is called with no Authorization header
    status, headers, body = stack.request("GET", "/me")
    # Then API Gateway refuses it (identity source missing) with the UNAUTHORIZED gateway response
    expected_status, template = gateway_response(stack, "UNAUTHORIZED", 401)
    assert status == expected_status == 401
    if template:
        assert body == json.loads(template.replace("$context.error.messageString", '"Unauthorized"'))
    unauthorized = api_properties(stack).get("GatewayResponses", {}).get("UNAUTHORIZED", {})
    for name, value in (unauthorized.get("ResponseParameters", {}).get("Headers") or {}).items():
        assert headers[name] == value.strip("'")
    assert stack.invocations(authorizer) == before


def test_garbage_token_is_401_from_the_authorizer(stack: LocalStack) -> None:
    authorizer = authorizer_function(stack)
    before = stack.invocations(authorizer)
    status, _, body = stack.request("GET", "/me", headers=bearer("not-a-token"))
    assert status == 401, body
    assert stack.invocations(authorizer) == before + 1


def test_tables_are_built_as_the_template_declares_with_ttl_on_expires(stack: LocalStack) -> None:
    client = dynamodb(stack)
    declared = table_resources(stack.template)
    for logical_id, name in (("SessionsTable", SESSIONS), ("UsersTable", USERS)):
        # Then TTL is ENABLED on `expires`
        ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
        # And keys and indexes are the template's
        table = client.describe_table(TableName=name)["Table"]
        properties = declared[logical_id]
        assert table["KeySchema"] == properties["KeySchema"]
        assert {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])} == {
            i["IndexName"]: i["KeySchema"] for i in properties.get("GlobalSecondaryIndexes", [])
        }
        if "StreamSpecification" in properties:
            assert table["StreamSpecification"]["StreamViewType"] == properties["StreamSpecification"]["StreamViewType"]


def test_sign_in_me_refresh_sign_out_end_to_end(uncached_stack: LocalStack) -> None:
    stack = uncached_stack
    # Given the seeded demo user signs in
    tokens = stack.sign_in()
    assert tokens["tokenType"] == "Bearer" and tokens["user"]["email"] == stack.demo_email
    # When they call /me
    status, _, me = stack.request("GET", "/me", headers=bearer(tokens["accessToken"]))
    assert status == 200, me
    assert me["user"]["email"] == stack.demo_email and me["session"]["id"] == tokens["session"]["id"]
    # And refresh
    status, _, rotated = stack.request("POST", "/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert status == 200, rotated
    assert rotated["refreshToken"] != tokens["refreshToken"]
    # And sign out with the new access token
    status, _, _ = stack.request("POST", "/auth/sign-out", headers=bearer(rotated["accessToken"]))
    assert status == 204
    # Then, the authorizer cache being off, the very next /me is refused by the authorizer
    status, _, body = stack.request("GET", "/me", headers=bearer(rotated["accessToken"]))
    assert status == 401
    _, template = gateway_response(stack, "UNAUTHORIZED", 401)
    if template:
        assert body == json.loads(template.replace("$context.error.messageString", '"Unauthorized"'))
    # And the old refresh token is dead too
    status, _, _ = stack.request("POST", "/auth/refresh", {"refreshToken": rotated["refreshToken"]})
    assert status == 401


def test_authorizer_result_is_cached_per_token_and_reused_across_routes(stack: LocalStack) -> None:
    # Given a fresh token (the cache key is the Authorization header) and the authorizer's invocation count
    authorizer = authorizer_function(stack)
    tokens = stack.sign_in()
    before = stack.invocations(authorizer)
    # When /me is called twice and then sign-out, within the TTL
    assert stack.request("GET", "/me", headers=bearer(tokens["accessToken"]))[0] == 200
    assert stack.request("GET", "/me", headers=bearer(tokens["accessToken"]))[0] == 200
    assert stack.request("POST", "/auth/sign-out", headers=bearer(tokens["accessToken"]))[0] == 204
    # Then the authorizer ran once: its cached policy also covered POST /auth/sign-out (case C01)
    assert stack.invocations(authorizer) == before + 1
    # And after the sign-out the cached Allow still stands until the TTL runs out (the documented delay):
    # /me is not refused by the authorizer; only the handler can notice.
    stack.request("GET", "/me", headers=bearer(tokens["accessToken"]))
    assert stack.invocations(authorizer) == before + 1


def test_user_gets_403_on_an_admin_route_from_the_cached_policy(stack: LocalStack) -> None:
    # Given a USER's fresh token whose policy API Gateway caches on GET /me (the template's RouteRoles)
    authorizer = authorizer_function(stack)
    tokens = stack.sign_in()
    assert tokens["user"]["role"] == "USER"
    before = stack.invocations(authorizer), stack.invocations("AdminApiFunction")
    assert stack.request("GET", "/me", headers=bearer(tokens["accessToken"]))[0] == 200
    # When the same token calls an ADMIN route
    path = f"/admin/users/{tokens['user']['id']}/sessions"
    status, _, body = stack.request("GET", path, headers=bearer(tokens["accessToken"]))
    # Then API Gateway answers 403 from the cached policy's explicit Deny: neither the authorizer
    # nor the admin function runs again, and the other routes still pass
    assert (status, body) == (403, {"error": "forbidden", "message": "Forbidden"})
    assert (stack.invocations(authorizer), stack.invocations("AdminApiFunction")) == (before[0] + 1, before[1])
    assert stack.request("GET", "/me", headers=bearer(tokens["accessToken"]))[0] == 200


def test_without_cache_every_request_invokes_the_authorizer(uncached_stack: LocalStack) -> None:
    authorizer = authorizer_function(uncached_stack)
    tokens = uncached_stack.sign_in()
    before = uncached_stack.invocations(authorizer)
    for _ in range(3):
        assert uncached_stack.request("GET", "/me", headers=bearer(tokens["accessToken"]))[0] == 200
    assert uncached_stack.invocations(authorizer) == before + 3


def test_sweeper_runs_on_its_timer_with_a_scheduled_event(stack: LocalStack) -> None:
    # The stack was started with SWEEP_INTERVAL_SECONDS=3
    assert wait_for(lambda: "scheduled SweeperFunction (Sweep): " in stack.log(), timeout=30), stack.log()[-3000:]
    line = re.search(r"scheduled SweeperFunction \(Sweep\): (.*)$", stack.log(), re.MULTILINE)
    assert line is not None and "errorMessage" not in line.group(1)


def test_env_json_covers_every_function_for_sam_local_with_docker(stack: LocalStack) -> None:
    env = json.loads((REPO / "local" / "env.json").read_text())
    functions = {k for k, r in stack.template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert set(env) == functions
    for variables in env.values():
        assert variables["AWS_ENDPOINT_URL_DYNAMODB"] == "http://host.docker.internal:4566"
        assert variables["SESSIONS_TABLE"] == SESSIONS and variables["USERS_TABLE"] == USERS
        assert variables["AUTH_SECRET"] and variables.get("AUTH_SECRET_ARN", "") == ""


# -- the emulator's own behaviour, with a stub app ----------------------------------------------


def test_cached_policy_is_evaluated_against_each_new_method_arn(stub_stack: LocalStack) -> None:
    # Given an authorizer that allows only the exact method ARN it was asked about
    before = stub_stack.invocations("AuthFunction")
    assert stub_stack.request("GET", "/a", headers=bearer("allow-narrow-1"))[0] == 200
    # When the same token calls another route within the TTL
    status, headers, body = stub_stack.request("GET", "/b", headers=bearer("allow-narrow-1"))
    # Then the cached policy is not re-fetched, and does not cover /b: 403, as on AWS
    assert status == 403
    assert body == {"message": "User is not authorized to access this resource"}
    assert headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert stub_stack.invocations("AuthFunction") == before + 1


def test_wildcard_policy_and_authorizer_context_reach_the_function(stub_stack: LocalStack) -> None:
    status, _, body = stub_stack.request("GET", "/a", headers=bearer("allow-1"))
    assert status == 200, body
    assert body["path"] == "/a"
    authorizer = body["authorizer"]
    assert authorizer["principalId"] == "user-1" and authorizer["userId"] == "user-1"
    assert isinstance(authorizer["integrationLatency"], int)
    assert stub_stack.request("GET", "/b", headers=bearer("allow-1"))[0] == 200


@pytest.mark.parametrize(
    ("token", "status", "body"),
    [
        ("deny-1", 403, {"message": "User is not authorized to access this resource with an explicit deny"}),
        ("nope", 401, {"message": "Unauthorized"}),
        ("boom-1", 500, {"message": None}),  # authorizer raised something else: AUTHORIZER_FAILURE
        ("garbage-1", 500, {"message": None}),  # not a policy: AUTHORIZER_CONFIGURATION_ERROR
    ],
)
def test_authorizer_outcomes_map_like_api_gateway(stub_stack: LocalStack, token: str, status: int, body: Any) -> None:
    got_status, _, got_body = stub_stack.request("GET", "/a", headers=bearer(token))
    assert (got_status, got_body) == (status, body)


def test_open_route_skips_the_authorizer(stub_stack: LocalStack) -> None:
    before = stub_stack.invocations("AuthFunction")
    status, _, body = stub_stack.request("GET", "/open")
    assert status == 200, body
    assert body["authorizer"] is None or "principalId" not in body["authorizer"]
    assert stub_stack.invocations("AuthFunction") == before


def test_sandbox_has_lambdas_context_and_environment(stub_stack: LocalStack) -> None:
    status, _, body = stub_stack.request("GET", "/open")
    assert status == 200, body
    context, env = body["context"], body["env"]
    assert context["function_name"] == "EchoFunction" and context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert context["memory_limit_in_mb"] == "384"  # the function's own MemorySize over Globals; a str, as in Lambda
    assert context["log_group_name"] == "/aws/lambda/EchoFunction"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert re.fullmatch(r"[0-9a-f-]{36}", context["aws_request_id"])
    assert 0 < context["remaining"] <= 2000  # Timeout: 2 from Globals
    assert Path(body["cwd"]).name == "echo"  # /var/task
    # Globals + own variables; !Ref of a parameter (overridden), of a table (physical name); secret swapped
    assert env["GREETING"] == "hi there" and env["OWN"] == "mine"
    assert env["SESSIONS_TABLE"] == SESSIONS
    assert env["AUTH_SECRET_ARN"] is None and env["AUTH_SECRET"] == stub_stack.auth_secret
    assert env["AWS_REGION"] == "us-east-1" and env["AWS_ENDPOINT_URL_DYNAMODB"] == stub_stack.dynamodb_endpoint
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "384"
    assert env["PYTHONPATH"] is None
    # And what the function prints lands in the stack's output, prefixed with its name
    assert wait_for(lambda: "[EchoFunction] echo says hi" in stub_stack.log())
    assert "[EchoFunction] echo to stderr" in stub_stack.log()


def test_sandbox_is_reused_and_replaced_when_it_dies(stub_stack: LocalStack) -> None:
    # Given a warm sandbox
    first = stub_stack.request("GET", "/open")[2]["pid"]
    assert stub_stack.request("GET", "/open")[2]["pid"] == first
    # When the function kills its process
    status, _, _ = stub_stack.request("GET", "/open?crash=1")
    # Then that invocation fails, and the next one gets a fresh sandbox
    assert status in (500, 502)
    status, _, body = stub_stack.request("GET", "/open")
    assert status == 200 and body["pid"] != first


def test_busy_sandboxes_scale_out(stub_stack: LocalStack) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: stub_stack.request("GET", "/open?sleep=1"), range(3)))
    assert all(status == 200 for status, _, _ in answers), answers
    assert len({body["pid"] for _, _, body in answers}) == 3
    assert time.monotonic() - started < 2.9  # in parallel, not one after the other


def test_function_timeout_is_enforced(stub_stack: LocalStack) -> None:
    started = time.monotonic()
    status, _, _ = stub_stack.request("GET", "/open?sleep=5")
    assert status in (500, 502, 504)
    assert time.monotonic() - started < 4.5  # Timeout: 2
    assert wait_for(lambda: "Task timed out after 2.00 seconds" in stub_stack.log())
    assert stub_stack.request("GET", "/open")[0] == 200


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "\nState:\tZ" in status.read_text()


def test_sigterm_stops_everything_it_started_and_exits_0(launch_stack, tmp_path) -> None:
    from tests.e2e.conftest import write_stub_app

    stack = launch_stack("shutdown", template=write_stub_app(tmp_path / "app"))
    assert stack.request("GET", "/open")[0] == 200
    children = _children(stack.process.pid)
    if not Path(f"/proc/{stack.process.pid}/task/{stack.process.pid}/children").exists():
        pytest.skip("needs /proc/<pid>/task/<pid>/children (Linux)")
    assert len(children) >= 3  # moto + the two sandboxes started at boot
    # When it gets SIGTERM (what Ctrl-C or `kill PID` sends)
    assert stack.stop() == 0
    # Then moto and every sandbox are gone
    assert wait_for(lambda: all(_gone(pid) for pid in children), timeout=10), children


@pytest.mark.e2e
def test_every_request_gets_its_own_request_id(stack: LocalStack) -> None:
    # Given two sign-ins, then their logs carry two different correlation ids (requestContext.requestId)
    before = stack.log()
    stack.sign_in()
    stack.sign_in()
    new_lines = stack.log()[len(before) :]
    ids = set(re.findall(r'"message":"signed in".*?"correlation_id":"([0-9a-f-]{36})"', new_lines))
    assert len(ids) == 2, new_lines[-2000:]
