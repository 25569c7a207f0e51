"""`make run`: the whole sessiongate stack on 127.0.0.1, without Docker or an AWS account.

Runs in SAM CLI's virtualenv (it reuses SAM CLI's template providers and its
local API Gateway service); the functions, moto and the admin CLI run in
child processes with the runtime virtualenv's interpreter. BACKEND=dynamodb-local
starts AWS's DynamoDB Local (java, the jar from node_modules/) instead of moto.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from local.config import HOST, REGION, Settings, StartupError, load_settings, parse_overrides
from local.model import (
    Model,
    base_environment,
    env_json,
    function_specs,
    read_model,
    scheduled_event,
    scheduled_functions,
)
from local.template import create_tables

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ACCESS_LOG = re.compile(r'"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/[\d.]+" \d{3}')

LOG = logging.getLogger("local")


class StopRequested(BaseException):
    """SIGINT/SIGTERM during startup."""


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def note(text: str) -> None:
    from local.runner import emit

    emit("local", text)


# -- processes -------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux: if the stack is killed outright, moto goes too instead of holding the port.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) == 0


def dynamodb_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
    )


def wait_for_dynamodb(endpoint: str, process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    client = dynamodb_client(endpoint)
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise StartupError(f"moto exited with status {process.returncode} (its output is above)")
        try:
            client.list_tables(Limit=1)
            return
        except (BotoCoreError, ClientError) as exc:
            if time.monotonic() > deadline:
                raise StartupError(f"DynamoDB at {endpoint} did not answer in {timeout:.0f} s: {exc}") from None
        time.sleep(0.2)


class Stack:
    """Everything `make run` starts, so that it can all be stopped by PID."""

    def __init__(self, settings: Settings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.environ = environ
        self.moto: subprocess.Popen[bytes] | None = None
        self.dynamodb_local: Any = None  # local.dynamodb_local.DynamoDBLocal when BACKEND=dynamodb-local
        self.runner: Any = None
        self.server: Any = None
        self.server_thread: threading.Thread | None = None
        self.sweeper_stop = threading.Event()
        self.sweeper_thread: threading.Thread | None = None
        self.demo_user_existed = False

    # 1. DynamoDB
    def start_dynamodb(self) -> None:
        from local.runner import forward_lines

        settings = self.settings
        if settings.external_dynamodb:
            wait_for_dynamodb(settings.external_dynamodb, None)
            return
        if settings.backend == "dynamodb-local":
            self.start_dynamodb_local()
            return
        if _port_in_use(settings.moto_port):
            raise StartupError(
                f"port {settings.moto_port} is taken (another moto?): set MOTO_PORT, "
                "or AWS_ENDPOINT_URL_DYNAMODB to use that DynamoDB"
            )
        if not os.path.exists(settings.runtime_python):
            raise StartupError(
                f"runtime interpreter {settings.runtime_python} not found (make .venv, or --runtime-python)"
            )
        env = base_environment(settings, self.environ)
        self.moto = subprocess.Popen(  # fixed argv
            [settings.runtime_python, "-m", "local.moto_dynamodb", "-H", HOST, "-p", str(settings.moto_port)],
            cwd=settings.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        if self.moto.stdout is None:
            raise StartupError("moto started without an output pipe")
        verbose = settings.verbose
        forward_lines(self.moto.stdout, "moto", keep=lambda line: verbose or not _ACCESS_LOG.search(line))
        wait_for_dynamodb(settings.dynamodb_endpoint, self.moto)

    def start_dynamodb_local(self) -> None:
        from local.dynamodb_local import DynamoDBLocal, DynamoDBLocalError
        from local.runner import forward_lines

        port = self.settings.dynamodb_local_port
        if _port_in_use(port):
            raise StartupError(
                f"port {port} is taken (another DynamoDB Local?): set DYNAMODB_LOCAL_PORT, "
                "or AWS_ENDPOINT_URL_DYNAMODB to use that DynamoDB"
            )
        self.dynamodb_local = DynamoDBLocal(
            port,
            output=subprocess.PIPE,
            root=self.settings.root,
            environ=self.environ,
            on_spawn=lambda process: forward_lines(process.stdout, "dynamodb-local"),
        )
        try:
            self.dynamodb_local.start()
        except DynamoDBLocalError as exc:
            raise StartupError(str(exc)) from None

    # 2. tables
    def create_tables(self, model: Model) -> dict[str, str]:
        from local.template import parameter_values

        parameters = parameter_values(model.raw, self.settings.parameter_overrides)
        return create_tables(
            dynamodb_client(self.settings.dynamodb_endpoint), model.raw, self.settings.table_names, parameters
        )

    # 3. demo user
    def seed_demo_user(self, specs: list[Any]) -> None:
        settings = self.settings
        env: dict[str, str] = {}
        layer_dirs: list[str] = []
        for spec in specs:
            env.update(spec.environment)
            layer_dirs += [d for d in spec.layer_dirs if d not in layer_dirs]
        for name in [k for k in env if k.startswith(("AWS_LAMBDA_", "LAMBDA_", "_HANDLER"))]:
            del env[name]
        env["PYTHONPATH"] = os.pathsep.join(layer_dirs)
        # The password by environment, not argv: a generated one may begin with "-" (which
        # argparse would read as an option), and argv is visible to every local user in ps.
        env["SESSIONGATE_PASSWORD"] = settings.demo_password
        command = [
            settings.runtime_python, "-m", "sessiongate.admin", "create-user",
            "--email", settings.demo_email, "--name", "Demo User",
        ]  # fmt: skip
        try:
            done = subprocess.run(  # fixed argv
                command, cwd=settings.root, env=env, capture_output=True, text=True, timeout=120, check=False
            )
        except subprocess.TimeoutExpired:
            raise StartupError("sessiongate.admin create-user did not finish in 120 s") from None
        output = (done.stdout + done.stderr).strip()
        if done.returncode == 3 and "email_taken" in output:
            self.demo_user_existed = True
            return
        if done.returncode != 0:
            raise StartupError(f"seeding the demo user failed (exit {done.returncode}):\n{output}")

    # 4. functions
    def start_functions(self, specs: list[Any]) -> None:
        from local.runner import FunctionPool, ProcessLambdaRunner

        pools = {spec.logical_id: FunctionPool(spec, self.settings.runtime_python) for spec in specs}
        self.runner = ProcessLambdaRunner(pools)
        if not self.settings.prewarm:
            return
        errors: dict[str, str | None] = {}
        threads = [
            threading.Thread(target=lambda p=pool: errors.__setitem__(p.spec.logical_id, p.warm()), daemon=True)
            for pool in pools.values()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for logical_id, error in errors.items():
            if error:
                note(
                    f"{logical_id} failed its cold start (requests will retry it): {json.loads(error).get('errorMessage')}"
                )

    # 5. API
    def start_api(self, model: Model) -> None:
        from werkzeug.serving import make_server

        from local.apigw import AuthorizerCache, CachingApigwService, GatewayResponses

        if not model.api.routes:
            raise StartupError("the template declares no Api events")
        service = CachingApigwService(
            api=model.api,
            lambda_runner=self.runner,
            port=self.settings.port,
            host=HOST,
            authorizer_cache=AuthorizerCache(model.authorizer_ttls),
            gateway_responses=GatewayResponses(model.gateway_responses),
        )
        service.create()
        try:
            self.server = make_server(HOST, self.settings.port, service._app, threaded=True)
        except OSError as exc:
            raise StartupError(f"cannot listen on {HOST}:{self.settings.port}: {exc.strerror} (set PORT)") from None
        self.server_thread = threading.Thread(target=self.server.serve_forever, name="apigw", daemon=True)
        self.server_thread.start()

    # 6. sweeper
    def start_sweeper(self, model: Model) -> list[str]:
        jobs = [(fn, ev) for fn, ev in scheduled_functions(model.raw) if fn in self.runner.pools]
        interval = self.settings.sweep_interval
        if not jobs or interval <= 0:
            return []

        def loop() -> None:
            while not self.sweeper_stop.wait(interval):
                for logical_id, event_name in jobs:
                    event = scheduled_event(self.settings.root, logical_id, event_name)
                    try:
                        payload = self.runner.pool(logical_id).invoke(json.dumps(event))
                    except RuntimeError:
                        return  # stopping
                    note(f"scheduled {logical_id} ({event_name}): {payload[:500]}")

        self.sweeper_thread = threading.Thread(target=loop, name="sweeper", daemon=True)
        self.sweeper_thread.start()
        return [logical_id for logical_id, _ in jobs]

    def stop(self) -> None:
        note(f"stopping: API server, sandboxes, {'DynamoDB Local' if self.dynamodb_local else 'moto'}")
        self.sweeper_stop.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.runner is not None:
            self.runner.close()
        if self.moto is not None and self.moto.poll() is None:
            self.moto.terminate()
            try:
                self.moto.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.moto.kill()
                self.moto.wait()
        if self.dynamodb_local is not None:
            self.dynamodb_local.stop(timeout=5)


def print_banner(settings: Settings, model: Model, tables: Mapping[str, str], stack: Stack, swept: list[str]) -> None:
    base = f"http://{HOST}:{settings.port}"
    say("sessiongate local stack")
    for route in sorted(model.api.routes, key=lambda r: (r.path, r.methods)):
        auth = route.authorizer_name or "none"
        say(f"  {','.join(route.methods):<6} {base}{route.path}  -> {route.function_name} (authorizer: {auth})")
    say(f"  URL            {base}")
    if settings.external_dynamodb:
        dynamo = "external"
    elif stack.dynamodb_local is not None:
        dynamo = f"DynamoDB Local, pid {stack.dynamodb_local.pid}"
    else:
        dynamo = f"moto, pid {stack.moto.pid if stack.moto else '?'}"
    say(f"  DynamoDB       {settings.dynamodb_endpoint} ({dynamo}); tables: {', '.join(tables.values())}")
    password = settings.demo_password
    say(f"  demo user      {settings.demo_email}")
    if stack.demo_user_existed and settings.demo_password_generated:
        password = "<its password>"  # noqa: S105 - a placeholder shown in the curl line
        say("  demo password  unchanged: the user already existed in this DynamoDB (DEMO_PASSWORD was not set)")
    elif stack.demo_user_existed:
        say(f"  demo password  {password}  (the user already existed: this works only if it was created with it)")
    else:
        say(f"  demo password  {password}{'  (generated)' if settings.demo_password_generated else ''}")
    say(f"  AUTH_SECRET    {settings.auth_secret}{'  (generated)' if settings.auth_secret_generated else ''}")
    ttls = ", ".join(f"{name} {ttl} s" for name, ttl in model.authorizer_ttls.items()) or "none"
    say(f"  authorizer cache TTL: {ttls}")
    if swept:
        say(f"  scheduled      {', '.join(swept)} every {settings.sweep_interval:g} s")
    say("Try it:")
    body = json.dumps({"email": settings.demo_email, "password": password})
    say(f"  curl -s -X POST {base}/auth/sign-in -H 'Content-Type: application/json' -d '{body}'")
    say(f'  curl -s {base}/me -H "Authorization: Bearer $ACCESS_TOKEN"')
    say(
        f"  curl -s -X POST {base}/auth/refresh -H 'Content-Type: application/json'"
        ' -d "{\\"refreshToken\\": \\"$REFRESH_TOKEN\\"}"'
    )
    say(f"sessiongate local stack ready on {base}")


@contextlib.contextmanager
def signals_stop(stop: threading.Event, serving: threading.Event) -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        if serving.is_set():
            stop.set()
        else:
            raise StopRequested

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _PrefixedHandler(logging.Handler):
    """Log records as prefixed lines, through the same lock as the functions' output."""

    def __init__(self, prefix: str | None = None) -> None:
        super().__init__()
        self.prefix = prefix
        self.plain = not sys.stderr.isatty()  # werkzeug colours its access log even into a file

    def emit(self, record: logging.LogRecord) -> None:
        from local.runner import emit

        text = self.format(record)
        if self.plain:
            text = _ANSI.sub("", text)
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname} {text}"
        emit(self.prefix or record.name.split(".")[0], text)


def configure_logging(verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.addHandler(_PrefixedHandler())
    logging.getLogger("local").setLevel(logging.DEBUG if verbose else logging.INFO)
    werkzeug = logging.getLogger("werkzeug")  # the API's access log, as sam local shows it
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False
    werkzeug.addHandler(_PrefixedHandler("apigw"))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("SAM_CLI_TELEMETRY", "0")  # LocalApigwService tracks events; send none
    environ = dict(os.environ)
    try:
        settings, args = load_settings(argv, environ)
    except StartupError as exc:
        sys.stderr.write(f"local stack: {exc}\n")
        return 2
    configure_logging(settings.verbose)

    stop, serving = threading.Event(), threading.Event()
    stack = Stack(settings, environ)
    with signals_stop(stop, serving):
        try:
            settings.parameter_overrides = parse_overrides(environ.get("PARAMETER_OVERRIDES", ""))
            model = read_model(settings)
            if args.write_env_json:
                target = settings.root / "local" / "env.json"
                target.write_text(json.dumps(env_json(model, settings), indent=2) + "\n", encoding="utf-8")
                say(f"wrote {target.relative_to(settings.root)}")
                return 0
            stack.start_dynamodb()
            tables = stack.create_tables(model)
            specs = function_specs(model, settings, environ)
            stack.seed_demo_user(specs)
            stack.start_functions(specs)
            stack.start_api(model)
            swept = stack.start_sweeper(model)
            print_banner(settings, model, tables, stack, swept)
            serving.set()
            while not stop.wait(0.5):
                if stack.moto is not None and stack.moto.poll() is not None:
                    note(f"moto exited with status {stack.moto.returncode}; stopping")
                    return 1
                ddb = stack.dynamodb_local.process if stack.dynamodb_local is not None else None
                if ddb is not None and ddb.poll() is not None:
                    note(f"DynamoDB Local exited with status {ddb.returncode}; stopping")
                    return 1
            return 0
        except StartupError as exc:
            sys.stderr.write(f"local stack: {exc}\n")
            return 1
        except StopRequested:
            return 0
        finally:
            serving.set()  # from here a second Ctrl-C only asks again; cleanup runs to the end
            stack.stop()
