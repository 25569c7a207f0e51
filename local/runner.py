"""A Docker-free Lambda runner for SAM CLI's LocalApigwService.

Each function gets a pool of worker processes (local/worker.py run by the
runtime interpreter), one invocation at a time per worker, like Lambda
sandboxes: a cold start imports the handler, a busy pool grows up to a cap,
a worker that dies or times out is discarded and replaced on demand.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from samcli.local.lambdafn.exceptions import FunctionNotFound

LOG = logging.getLogger("local.runner")
WORKER_SCRIPT = Path(__file__).with_name("worker.py")
INIT_TIMEOUT_SECONDS = 30.0  # a cold import of Powertools + PynamoDB on a slow CI box
_OUTPUT_LOCK = threading.Lock()


def emit(prefix: str, text: str) -> None:
    """Write lines to the stack's stderr, each prefixed (one lock so lines never interleave)."""
    lines = text.splitlines() or [""]
    with _OUTPUT_LOCK:
        for line in lines:
            sys.stderr.write(f"[{prefix}] {line}\n")
        sys.stderr.flush()


def forward_lines(stream: IO[bytes], prefix: str, keep=lambda line: True) -> threading.Thread:
    """Copy a child's output to stderr line by line, prefixed, on a daemon thread."""

    def pump() -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if keep(line):
                    emit(prefix, line)

    thread = threading.Thread(target=pump, name=f"out-{prefix}", daemon=True)
    thread.start()
    return thread


@dataclass
class FunctionSpec:
    """What a sandbox needs to know about one function."""

    logical_id: str
    function_name: str
    handler: str
    code_dir: str
    layer_dirs: list[str]
    memory_size: int
    timeout: int
    environment: dict[str, str]
    aliases: set[str] = field(default_factory=set)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.environment.get('AWS_REGION', 'us-east-1')}:123456789012:function:{self.function_name}"


def _pipes(proc: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes], IO[bytes]]:
    if proc.stdin is None or proc.stdout is None or proc.stderr is None:
        raise RuntimeError("worker started without pipes")
    return proc.stdin, proc.stdout, proc.stderr


def lambda_error(error_type: str, message: str) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})


class Worker:
    """One sandbox process."""

    def __init__(self, spec: FunctionSpec, python: str, index: int) -> None:
        self.spec = spec
        now = datetime.now(UTC)
        log_stream = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        env = dict(spec.environment)
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = log_stream
        self.proc = subprocess.Popen(  # fixed argv: our interpreter and our script
            [python, str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=spec.code_dir,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the stack only; it stops us by PID
        )
        self.pid = self.proc.pid
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        prefix = spec.logical_id if index == 0 else f"{spec.logical_id}#{index}"
        self.prefix = prefix
        self._stdin, self._stdout, stderr = _pipes(self.proc)
        forward_lines(stderr, prefix)
        threading.Thread(target=self._read_answers, name=f"answers-{prefix}", daemon=True).start()
        first = {
            "functionName": spec.function_name,
            "functionArn": spec.arn,
            "handler": spec.handler,
            "codeDir": spec.code_dir,
            "layerDirs": spec.layer_dirs,
            "memorySize": spec.memory_size,
            "logGroupName": f"/aws/lambda/{spec.function_name}",
            "logStreamName": log_stream,
        }
        self._send(first)
        self.init: dict[str, Any] | None = None

    def _read_answers(self) -> None:
        with self._stdout:
            for raw in iter(self._stdout.readline, b""):
                try:
                    self._answers.put(json.loads(raw))
                except ValueError:
                    LOG.warning("%s: unreadable answer from worker %s", self.spec.logical_id, self.pid)
        self._answers.put(None)

    def _send(self, message: dict[str, Any]) -> bool:
        try:
            self._stdin.write(json.dumps(message).encode() + b"\n")
            self._stdin.flush()
        except (BrokenPipeError, ValueError):
            return False
        return True

    def wait_init(self) -> str | None:
        """Wait for the cold start; None if the handler is ready, else a Lambda error payload."""
        try:
            answer = self._answers.get(timeout=INIT_TIMEOUT_SECONDS)
        except queue.Empty:
            self.kill()
            return lambda_error("Runtime.InitError", f"init did not finish in {INIT_TIMEOUT_SECONDS:.0f} s")
        if answer is None:
            return lambda_error("Runtime.ExitError", f"Runtime exited during init: exit status {self.proc.wait()}")
        self.init = answer
        if not answer.get("ok"):
            return json.dumps(answer.get("error") or {"errorMessage": "init failed", "errorType": "Runtime.Unknown"})
        return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def invoke(self, event: str, tenant_id: str | None) -> tuple[str, bool]:
        """Run one invocation. Returns (payload, keep_worker)."""
        request_id = str(uuid.uuid4())
        timeout = self.spec.timeout
        deadline_ms = int(time.time() * 1000) + timeout * 1000
        emit(self.prefix, f"START RequestId: {request_id} Version: $LATEST")
        sent = self._send({"requestId": request_id, "event": event, "deadlineMs": deadline_ms, "tenantId": tenant_id})
        if not sent:
            return self._exit_error(request_id), False
        try:
            # A little grace past the deadline so the function's own timeout handling can answer first.
            answer = self._answers.get(timeout=timeout + 0.5)
        except queue.Empty:
            self.kill()
            emit(
                self.prefix,
                f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ} {request_id} Task timed out after {timeout:.2f} seconds",
            )
            return lambda_error(
                "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
            ), False
        if answer is None:
            return self._exit_error(request_id), False
        return answer["payload"], True

    def _exit_error(self, request_id: str) -> str:
        try:
            status = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            status = -9
        return lambda_error(
            "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}"
        )

    def stop(self, grace: float = 2.0) -> None:
        """Close stdin (the worker exits at EOF), then terminate, then kill, by PID."""
        if self.proc.poll() is not None:
            return
        try:
            self._stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class FunctionPool:
    """The sandboxes of one function: reuse an idle one, else start one, up to ``max_workers``."""

    def __init__(self, spec: FunctionSpec, python: str, max_workers: int = 4) -> None:
        self.spec = spec
        self.python = python
        self.max_workers = max_workers
        self._idle: list[Worker] = []
        self._count = 0  # live plus starting workers
        self._next_index = 0
        self._workers: set[Worker] = set()
        self._closed = False
        self._cond = threading.Condition()

    def _acquire(self) -> Worker | None:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the local stack is stopping")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._discard_locked(worker)
                if self._count < self.max_workers:
                    self._count += 1
                    return None  # caller starts one
                self._cond.wait()

    def _discard_locked(self, worker: Worker) -> None:
        self._workers.discard(worker)
        self._count -= 1
        self._cond.notify()

    def _start(self) -> tuple[Worker | None, str | None]:
        with self._cond:
            index = self._next_index
            self._next_index += 1
        try:
            worker = Worker(self.spec, self.python, index)
        except OSError as exc:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            return None, lambda_error("Runtime.InvalidEntrypoint", f"cannot start {self.python}: {exc}")
        with self._cond:
            self._workers.add(worker)
        error = worker.wait_init()
        if error is not None:
            worker.kill()
            with self._cond:
                self._discard_locked(worker)
            return None, error
        return worker, None

    def warm(self) -> str | None:
        """Start one sandbox ahead of the first request (the cold start happens at boot)."""
        if self._acquire() is not None:
            raise AssertionError("a fresh pool has no idle worker")
        worker, error = self._start()
        if worker is not None:
            self._release(worker, keep=True)
        return error

    def invoke(self, event: str, tenant_id: str | None = None) -> str:
        event = with_fresh_request_id(event)
        worker = self._acquire()
        if worker is None:
            worker, error = self._start()
            if worker is None:
                return error or lambda_error("Runtime.Unknown", "the sandbox did not start")
        keep = False
        try:
            payload, keep = worker.invoke(event, tenant_id)
        finally:
            self._release(worker, keep)
        return payload

    def _release(self, worker: Worker, keep: bool) -> None:
        with self._cond:
            if keep and worker.alive() and not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
            self._discard_locked(worker)
        worker.kill()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers = list(self._workers)
            self._idle.clear()
            self._cond.notify_all()
        threads = [threading.Thread(target=w.stop, daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)


class ProcessLambdaRunner:
    """Stands in for SAM CLI's LocalLambdaRunner: same invoke() and is_debugging() as LocalApigwService calls."""

    def __init__(self, pools: dict[str, FunctionPool]) -> None:
        self.pools = pools
        self._by_name: dict[str, FunctionPool] = {}
        for pool in pools.values():
            for name in {pool.spec.logical_id, pool.spec.function_name, *pool.spec.aliases}:
                self._by_name[name] = pool

    def pool(self, function_identifier: str) -> FunctionPool:
        try:
            return self._by_name[function_identifier]
        except KeyError:
            raise FunctionNotFound(f"Unable to find a Function with name '{function_identifier}'") from None

    def invoke(
        self,
        function_identifier: str,
        event: str,
        tenant_id: str | None = None,
        stdout: Any = None,
        stderr: Any = None,
        override_runtime: str | None = None,
        invocation_type: str = "RequestResponse",
        durable_execution_name: str | None = None,
        function: Any = None,
    ) -> None:
        """Invoke synchronously and write the response payload (or Lambda's error object) to ``stdout``.

        The function's logs do not go to ``stderr``: the workers stream them to
        the stack's stderr, prefixed with the function's logical id.
        """
        payload = self.pool(function_identifier).invoke(event, tenant_id)
        if stdout is not None:
            stdout.write_str(payload)
            stdout.flush()

    def is_debugging(self) -> bool:
        return False

    def close(self) -> None:
        threads = [threading.Thread(target=pool.close, daemon=True) for pool in self.pools.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)


def with_fresh_request_id(event: str) -> str:
    """A new requestContext.requestId per request, as API Gateway gives. SAM CLI 1.170's
    RequestContext takes its default request id from an argument default, evaluated once,
    so every proxy event would otherwise carry the same id (and the same correlation id)."""
    try:
        payload = json.loads(event)
    except ValueError:
        return event
    context = payload.get("requestContext") if isinstance(payload, dict) else None
    if not isinstance(context, dict) or "requestId" not in context:
        return event
    context["requestId"] = str(uuid.uuid4())
    return json.dumps(payload)
