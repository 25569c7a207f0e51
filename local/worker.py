"""One Lambda sandbox: imports a handler once, then serves invocations one at a time.

Run by the local stack with the *runtime* interpreter, as a script (stdlib
only until the handler is imported). Protocol, JSON lines: the first line on
stdin is the function spec; each further line is an invocation
``{"requestId", "event" (JSON text), "deadlineMs"}``. Answers go to the
original stdout: one ``{"type": "init", ...}`` line after the cold start,
then one ``{"type": "result"|"error", ...}`` line per invocation. The
function's own stdout and stderr both go to this process's stderr (the stack
prefixes them with the function name), like CloudWatch Logs.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import math
import os
import resource
import sys
import time
import traceback
import uuid
from typing import Any


class CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class LambdaContext:
    """Shaped like the Python runtime's context object (awslambdaric)."""

    def __init__(self, spec: dict[str, Any], request_id: str, deadline_ms: int, tenant_id: str | None) -> None:
        self.function_name: str = spec["functionName"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = spec["functionArn"]
        # The real runtime reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE, so this is a string there too.
        self.memory_limit_in_mb = str(spec["memorySize"])
        self.aws_request_id = request_id
        self.log_group_name: str = spec["logGroupName"]
        self.log_stream_name: str = spec["logStreamName"]
        self.identity = CognitoIdentity()
        self.client_context = None
        self.tenant_id = tenant_id
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


_REQUEST_ID = _RequestIdFilter()


def _json_default(value: Any) -> Any:
    # The Python runtime's encoder turns Decimal (boto3's numbers) into int/float.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error(error_type: str, message: str, exc: BaseException | None = None) -> dict[str, Any]:
    stack = traceback.format_tb(exc.__traceback__) if exc is not None else []
    # errorMessage/errorType/stackTrace: the shape SAM CLI recognises as a function error.
    return {"errorMessage": message, "errorType": error_type, "stackTrace": [line.rstrip() for line in stack]}


def _log_error(error: dict[str, Any], exc: BaseException | None) -> None:
    details = "".join(traceback.format_exception(exc)) if exc is not None else ""
    sys.stderr.write(f"[ERROR] {error['errorType']}: {error['errorMessage']}\n{details}")


def _install_root_logger() -> None:
    # The runtime gives the root logger a handler with this layout.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(_REQUEST_ID)
    logging.getLogger().addHandler(handler)


def _load_handler(spec: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    module_name, _, attribute = spec["handler"].rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        error = _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", exc)
        _log_error(error, exc)
        return None, error
    except Exception as exc:  # any failure at import is the runtime's ImportModuleError
        error = _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc)
        _log_error(error, exc)
        return None, error
    handler = getattr(module, attribute, None)
    if not callable(handler):
        error = _error("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'")
        _log_error(error, None)
        return None, error
    return handler, None


def _invoke(handler: Any, spec: dict[str, Any], message: dict[str, Any], init_ms: float | None) -> dict[str, Any]:
    request_id = message["requestId"]
    _REQUEST_ID.request_id = request_id
    os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
    context = LambdaContext(spec, request_id, int(message["deadlineMs"]), message.get("tenantId"))
    # START is the platform's line: the stack writes it before sending the invocation.
    started = time.perf_counter()
    answer: dict[str, Any]
    try:
        result = handler(json.loads(message["event"]), context)
    except Exception as exc:  # a function error is returned to the caller, like Lambda
        exc.__traceback__ = exc.__traceback__.tb_next if exc.__traceback__ else None  # drop this frame
        error = _error(type(exc).__name__, str(exc), exc)
        _log_error(error, exc)
        answer = {"type": "error", "requestId": request_id, "payload": json.dumps(error)}
    else:
        try:
            answer = {"type": "result", "requestId": request_id, "payload": json.dumps(result, default=_json_default)}
        except (TypeError, ValueError) as exc:
            error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", exc)
            _log_error(error, exc)
            answer = {"type": "error", "requestId": request_id, "payload": json.dumps(error)}
    duration = (time.perf_counter() - started) * 1000
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {max(1, math.ceil(duration))} ms"
        f"\tMemory Size: {spec['memorySize']} MB\tMax Memory Used: {max_rss_mb} MB"
    )
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms:.2f} ms"
    sys.stdout.flush()
    sys.stderr.write(f"END RequestId: {request_id}\n{report}\n")
    sys.stderr.flush()
    return answer


def main() -> int:
    # Keep the protocol channels apart from anything the function prints.
    protocol_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    protocol_out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    spec = json.loads(protocol_in.readline())
    # /var/task first, then the layers (/opt/python), then the runtime's own packages.
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [entry for entry in sys.path if entry and os.path.abspath(entry) != here]
    sys.path[:] = [spec["codeDir"], *spec["layerDirs"], *rest]
    os.chdir(spec["codeDir"])
    _install_root_logger()

    started = time.perf_counter()
    handler, init_error = _load_handler(spec)
    init_ms = (time.perf_counter() - started) * 1000
    protocol_out.write(
        json.dumps({"type": "init", "ok": init_error is None, "error": init_error, "initMs": init_ms}) + "\n"
    )
    if init_error is not None:
        return 1

    pending_init: float | None = init_ms
    for line in protocol_in:
        if not line.strip():
            continue
        answer = _invoke(handler, spec, json.loads(line), pending_init)
        pending_init = None
        protocol_out.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
