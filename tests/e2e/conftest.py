"""e2e tier: HTTP against the local stack (`python -m local`), started here on free loopback ports.

The stack runs with SAM CLI's interpreter (SESSIONGATE_SAM_PYTHON, default
.venv-sam/bin/python) and runs the functions, moto and the admin CLI with
this interpreter (the dev virtualenv has the layer's dependencies and moto).
SESSIONGATE_BACKEND=dynamodb-local starts each stack with BACKEND=dynamodb-local
(AWS's DynamoDB Local instead of moto).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.template import load_template, repo_root

REPO = repo_root()
START_TIMEOUT_SECONDS = 90  # cold imports of Powertools/PynamoDB in five sandboxes on a slow CI box
READY = re.compile(r"^sessiongate local stack ready on (http://127\.0\.0\.1:\d+)$", re.MULTILINE)
# Only these reach the stack from the test process: the root conftest and the integration tier
# put test tables, a test secret and their own moto endpoint in os.environ.
_PASSED_THROUGH = (
    "PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT",
    "JAVA_HOME", "DYNAMODB_LOCAL_JAR", "DYNAMODB_LOCAL_JAVA_OPTS", "DYNAMODB_LOCAL_ALL_INTERFACES",
)  # fmt: skip
BACKEND = os.environ.get("SESSIONGATE_BACKEND") or "moto"  # the stack's BACKEND: moto or dynamodb-local


def sam_python() -> str:
    return os.environ.get("SESSIONGATE_SAM_PYTHON") or str(REPO / ".venv-sam" / "bin" / "python")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_json(
    method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None, timeout: float = 30
) -> tuple[int, dict[str, str], Any]:
    """One request; returns (status, headers, body parsed as JSON when it is JSON, else text)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            status, response_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            status, response_headers, raw = error.code, dict(error.headers), error.read()
    text = raw.decode("utf-8")
    try:
        return status, response_headers, json.loads(text) if text else None
    except ValueError:
        return status, response_headers, text


@dataclass
class LocalStack:
    """A running `python -m local`."""

    base_url: str
    demo_email: str
    demo_password: str
    auth_secret: str
    dynamodb_endpoint: str
    process: subprocess.Popen[bytes]
    log_path: Path
    template: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None, timeout: float = 30
    ) -> tuple[int, dict[str, str], Any]:
        return http_json(method, self.base_url + path, body, headers, timeout)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def invocations(self, logical_id: str) -> int:
        """How many times a function was invoked: its START lines (the stack writes them before invoking)."""
        return len(re.findall(rf"^\[{re.escape(logical_id)}(?:#\d+)?\] START RequestId: ", self.log(), re.MULTILINE))

    def sign_in(self) -> dict[str, Any]:
        status, _, body = self.request(
            "POST", "/auth/sign-in", {"email": self.demo_email, "password": self.demo_password}
        )
        assert status == 200, body
        return body

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM by PID, as Ctrl-C would; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


def start_stack(
    workdir: Path, *, template: Path | None = None, env: Mapping[str, str] | None = None, args: tuple[str, ...] = ()
) -> LocalStack:
    """Start the stack and wait for its ready line; fail with its output if it does not come."""
    python = sam_python()
    if not os.path.exists(python):
        pytest.fail(f"SAM CLI interpreter not found at {python}: run `make venv`, or set SESSIONGATE_SAM_PYTHON")
    workdir.mkdir(parents=True, exist_ok=True)
    port, dynamodb_port = free_port(), free_port()
    while dynamodb_port == port:
        dynamodb_port = free_port()
    child_env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    child_env.update(
        {
            "PORT": str(port),
            "BACKEND": BACKEND,
            "MOTO_PORT": str(dynamodb_port),  # whichever BACKEND starts uses this port
            "DYNAMODB_LOCAL_PORT": str(dynamodb_port),
            "AUTH_SECRET": "e2e-" + secrets.token_urlsafe(40),
            "DEMO_EMAIL": "demo@example.com",
            "DEMO_PASSWORD": "e2e-" + secrets.token_urlsafe(12),
            "SWEEP_INTERVAL_SECONDS": "0",
            "PYTHONUNBUFFERED": "1",
            "SAM_CLI_TELEMETRY": "0",
        }
    )
    child_env.update(env or {})
    command = [python, "-m", "local", "--runtime-python", sys.executable, *args]
    if template is not None:
        command += ["--template", str(template)]
    log_path = workdir / "stack.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our interpreters, our module
            command, cwd=REPO, env=child_env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        ready = READY.search(text)
        if ready:
            break
        if process.poll() is not None:
            pytest.fail(f"the local stack exited with status {process.returncode} before it was ready:\n{_tail(text)}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the local stack was not ready within {START_TIMEOUT_SECONDS} s:\n{_tail(text)}")
        time.sleep(0.1)
    return LocalStack(
        base_url=ready.group(1),
        demo_email=child_env["DEMO_EMAIL"],
        demo_password=child_env["DEMO_PASSWORD"],
        auth_secret=child_env["AUTH_SECRET"],
        dynamodb_endpoint=child_env.get("AWS_ENDPOINT_URL_DYNAMODB") or f"http://127.0.0.1:{dynamodb_port}",
        process=process,
        log_path=log_path,
        template=load_template(template or REPO / "template.yaml"),
        env=child_env,
    )


@pytest.fixture(scope="session")
def launch_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LocalStack]]:
    """Start extra stacks (other parameters, another template); all stopped by PID at the end."""
    started: list[LocalStack] = []

    def launch(name: str, **kwargs: Any) -> LocalStack:
        stack = start_stack(tmp_path_factory.mktemp(name), **kwargs)
        started.append(stack)
        return stack

    yield launch
    for stack in started:
        stack.stop()


@pytest.fixture(scope="session")
def stack(launch_stack: Callable[..., LocalStack]) -> LocalStack:
    """The stack as `make run` starts it, from the repository's template.yaml, sweeper on a short timer."""
    return launch_stack("stack", env={"SWEEP_INTERVAL_SECONDS": "3"})


@pytest.fixture(scope="session")
def uncached_stack(launch_stack: Callable[..., LocalStack]) -> LocalStack:
    """The same stack with the authorizer cache off, through sam's parameter-override syntax."""
    return launch_stack("uncached", env={"PARAMETER_OVERRIDES": "AuthorizerCacheTtlSeconds=0"})


# -- a tiny app for the emulator's own behaviour (what the real handlers never do) --

STUB_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  CacheTtl:
    Type: Number
    Default: 300
  Greeting:
    Type: String
    Default: hello
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    Timeout: 2
    MemorySize: 192
    Layers: [!Ref StubLayer]
    Environment:
      Variables:
        SESSIONS_TABLE: !Ref SessionsTable
        AUTH_SECRET_ARN: !Ref Secret
        GREETING: !Ref Greeting
Resources:
  StubLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  Secret:
    Type: AWS::SecretsManager::Secret
  StubApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: test
      Auth:
        DefaultAuthorizer: StubAuth
        Authorizers:
          StubAuth:
            FunctionArn: !GetAtt AuthFunction.Arn
            Identity:
              Header: Authorization
              ReauthorizeEvery: !Ref CacheTtl
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: auth/
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      MemorySize: 384
      Environment:
        Variables:
          OWN: mine
      Events:
        A:
          Type: Api
          Properties: {RestApiId: !Ref StubApi, Path: /a, Method: get}
        B:
          Type: Api
          Properties: {RestApiId: !Ref StubApi, Path: /b, Method: get}
        Open:
          Type: Api
          Properties: {RestApiId: !Ref StubApi, Path: /open, Method: get, Auth: {Authorizer: NONE}}
  SessionsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
"""

STUB_AUTHORIZER = """\
def policy(effect, resource):
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": {"userId": "user-1", "flag": True},
    }


def lambda_handler(event, context):
    token = event["authorizationToken"].removeprefix("Bearer ")
    api_and_stage = event["methodArn"].split("/")[0] + "/" + event["methodArn"].split("/")[1]
    if token.startswith("allow-narrow"):
        return policy("Allow", event["methodArn"])  # only the route it was first asked about
    if token.startswith("allow"):
        return policy("Allow", api_and_stage + "/*")
    if token.startswith("deny"):
        return policy("Deny", api_and_stage + "/*")
    if token.startswith("boom"):
        raise ValueError("authorizer bug")
    if token.startswith("garbage"):
        return {"policyDocument": "no"}
    raise Exception("Unauthorized")
"""

STUB_ECHO = """\
import json
import os
import sys
import time

COLD = {"pid": os.getpid()}


def lambda_handler(event, context):
    query = event.get("queryStringParameters") or {}
    if "crash" in query:
        os._exit(3)
    if "sleep" in query:
        time.sleep(float(query["sleep"]))
    print("echo says hi")
    print("echo to stderr", file=sys.stderr)
    body = {
        "pid": COLD["pid"],
        "cwd": os.getcwd(),
        "authorizer": event["requestContext"].get("authorizer"),
        "path": event["path"],
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        },
        "env": {k: os.environ.get(k) for k in (
            "SESSIONS_TABLE", "AUTH_SECRET_ARN", "AUTH_SECRET", "GREETING", "OWN", "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_REGION", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "PYTHONPATH",
        )},
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
"""

STUB_ADMIN = """\
import json
import sys

print(json.dumps({"user": {"email": sys.argv[sys.argv.index("--email") + 1]}}))
"""


def write_stub_app(root: Path) -> Path:
    """A template with an authorizer whose answer is chosen by the token, and an echo function."""
    files = {
        "template.yaml": STUB_TEMPLATE,
        "auth/app.py": STUB_AUTHORIZER,
        "echo/app.py": STUB_ECHO,
        "layer/sessiongate/__init__.py": "",
        "layer/sessiongate/admin.py": STUB_ADMIN,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "template.yaml"


@pytest.fixture(scope="session")
def stub_stack(launch_stack: Callable[..., LocalStack], tmp_path_factory: pytest.TempPathFactory) -> LocalStack:
    template = write_stub_app(tmp_path_factory.mktemp("stub-app"))
    return launch_stack("stub", template=template, env={"PARAMETER_OVERRIDES": "Greeting='hi there'"})
