"""template.yaml as SAM CLI reads it, turned into what the local stack runs: functions and their environment."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.config import ACCOUNT_ID, REGION, Settings, StartupError
from local.template import load_template

# What a Lambda sandbox gets from the host environment; nothing else leaks in (no PYTHONPATH, no AWS profile).
_HOST_VARIABLES = ("PATH", "LANG", "LC_ALL", "TMPDIR", "POWERTOOLS_DEV", "PYTHONWARNINGS", "PYTHONDEVMODE")

LOG = logging.getLogger("local")


@dataclass
class Model:
    """What SAM CLI's providers read from template.yaml, plus the raw template for what they drop."""

    stacks: list[Any]
    raw: dict[str, Any]
    functions: list[Any]  # samcli Function
    api: Any  # samcli Api
    authorizer_ttls: dict[str, int]
    gateway_responses: dict[str, dict[str, Any]]
    resources: dict[str, Any] = field(default_factory=dict)  # resolved by SAM CLI


def read_model(settings: Settings) -> Model:
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    if not settings.template_path.is_file():
        raise StartupError(f"no template at {settings.template_path.name}")
    raw = load_template(settings.template_path)
    # SAM CLI prints its authorizer fidelity banner on stdout; keep stdout for our own lines.
    with contextlib.redirect_stdout(sys.stderr):
        stacks, _ = SamLocalStackProvider.get_stacks(
            str(settings.template_path),
            parameter_overrides=settings.parameter_overrides,
            global_parameter_overrides={"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID},
        )
        functions = list(SamFunctionProvider(stacks, ignore_code_extraction_warnings=True).get_all())
        with _routes_kept_apart_per_authorizer():
            api = ApiProvider(stacks, cwd=str(settings.template_path.parent)).api
    resources: dict[str, Any] = {}
    for stack in stacks:
        resources.update(stack.resources)
    return Model(
        stacks=stacks,
        raw=raw,
        functions=functions,
        api=api,
        authorizer_ttls=authorizer_ttls(resources),
        gateway_responses=gateway_responses(resources),
        resources=resources,
    )


@contextlib.contextmanager
def _routes_kept_apart_per_authorizer() -> Iterator[None]:
    """SAM CLI merges one function's routes on one path into a single route with the *last*
    event's authorizer: a `GET /me` (authorizer) and an `OPTIONS /me` (Authorizer: NONE, the
    CORS preflight) became one unauthenticated route. API Gateway keeps an authorizer per
    method, so merge only the routes that share an authorizer."""
    from samcli.lib.providers.api_collector import ApiCollector

    original = ApiCollector.dedupe_function_routes

    def dedupe(routes: list[Any]) -> list[Any]:
        by_authorizer: dict[str | None, list[Any]] = {}
        for route in routes:
            by_authorizer.setdefault(route.authorizer_name, []).append(route)
        return [route for group in by_authorizer.values() for route in original(group)]

    ApiCollector.dedupe_function_routes = staticmethod(dedupe)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        ApiCollector.dedupe_function_routes = staticmethod(original)  # type: ignore[method-assign,assignment]


def authorizer_ttls(resources: Mapping[str, Any]) -> dict[str, int]:
    """Authorizer name -> result cache TTL (ReauthorizeEvery, resolved; API Gateway's 300 when unset)."""
    ttls: dict[str, int] = {}
    for resource in resources.values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
            for name, spec in ((properties.get("Auth") or {}).get("Authorizers") or {}).items():
                every = (spec.get("Identity") or {}).get("ReauthorizeEvery") if isinstance(spec, dict) else None
                ttls[name] = _ttl(every, name)
        elif resource.get("Type") == "AWS::ApiGateway::Authorizer" and properties.get("Name"):
            ttls[properties["Name"]] = _ttl(properties.get("AuthorizerResultTtlInSeconds"), properties["Name"])
    return ttls


def _ttl(value: Any, name: str) -> int:
    if value is None:
        return 300
    try:
        return max(0, int(str(value)))
    except ValueError:
        raise StartupError(f"authorizer {name}: ReauthorizeEvery {value!r} is not a number") from None


def gateway_responses(resources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    responses: dict[str, dict[str, Any]] = {}
    for resource in resources.values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Api":
            responses.update(properties.get("GatewayResponses") or {})
        elif resource.get("Type") == "AWS::ApiGateway::GatewayResponse" and properties.get("ResponseType"):
            responses[properties["ResponseType"]] = properties
    return responses


def _raw_environment(raw: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    globals_env = (((raw.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}
    resource = raw["Resources"].get(logical_id) or {}
    own_env = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
    return {**globals_env, **own_env}


def _table_value(raw_value: Any, table_names: Mapping[str, str]) -> str | None:
    """A template value that names a table (!Ref Table, !GetAtt Table.Arn) -> its local value."""
    if isinstance(raw_value, dict):
        if raw_value.get("Ref") in table_names:
            return table_names[raw_value["Ref"]]
        target = raw_value.get("Fn::GetAtt")
        if isinstance(target, list) and len(target) == 2 and target[0] in table_names and target[1] == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table_names[target[0]]}"
    return None


def template_environment(model: Model, function: Any, settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The function's variables from the template (Globals merged, parameters resolved by SAM CLI), made local."""
    resolved = dict(((function.environment or {}).get("Variables")) or {})
    raw = _raw_environment(model.raw, function.name)
    env: dict[str, str] = {}
    for name, value in resolved.items():
        table = _table_value(raw.get(name), settings.table_names)
        if table is not None:
            env[name] = table
        elif name in environ and name not in ("AUTH_SECRET_ARN",):
            env[name] = environ[name]  # like sam local: the shell overrides a declared variable
        elif isinstance(value, (dict, list)):
            # An intrinsic SAM CLI leaves unresolved, such as the Fn::If that declares
            # AWS_ENDPOINT_URL_DYNAMODB and AUTH_SECRET for `sam local` only: the stack's own value stands.
            LOG.debug("%s: %s is an unresolved intrinsic; not set from the template", function.name, name)
        else:
            env[name] = "true" if value is True else "false" if value is False else str(value)
    env.pop("AUTH_SECRET_ARN", None)
    env["AUTH_SECRET"] = settings.auth_secret
    return env


def base_environment(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    env = {name: environ[name] for name in _HOST_VARIABLES if name in environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        {
            "LANG": environ.get("LANG", "en_US.UTF-8"),
            "TZ": ":UTC",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL_DYNAMODB": settings.dynamodb_endpoint,
            # No profile, no instance metadata: nothing on this machine can point the code at a real account.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SAM_LOCAL": "true",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def function_specs(model: Model, settings: Settings, environ: Mapping[str, str]) -> list[Any]:
    from local.runner import FunctionSpec

    specs = []
    base_dir = settings.template_path.parent
    for function in model.functions:
        if function.packagetype != "Zip" or not (function.runtime or "").startswith("python"):
            LOG.warning("%s: only Python zip functions run locally; skipped", function.name)
            continue
        if not function.codeuri or not function.handler:
            LOG.warning("%s: no CodeUri/Handler; skipped", function.name)
            continue
        layer_dirs = []
        for layer in function.layers:
            if not layer.codeuri:
                LOG.warning("%s: layer %s is not in this template; skipped", function.name, layer.name)
                continue
            layer_dir = base_dir / layer.codeuri
            layer_dirs += [str(p) for p in (layer_dir / "python", layer_dir) if p.is_dir()]
        memory = int(function.memory or 128)
        timeout = int(function.timeout or 3)
        env = base_environment(settings, environ)
        env.update(template_environment(model, function, settings, environ))
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.functionname,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.functionname}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_TASK_ROOT": str(base_dir / function.codeuri),
                "_HANDLER": function.handler,
            }
        )
        specs.append(
            FunctionSpec(
                logical_id=function.name,
                function_name=function.functionname,
                handler=function.handler,
                code_dir=str(base_dir / function.codeuri),
                layer_dirs=layer_dirs,
                memory_size=memory,
                timeout=timeout,
                environment=env,
                aliases={function.full_path, function.function_id},
            )
        )
    return specs


def scheduled_functions(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(function logical id, event name) of each Schedule event in the template."""
    found = []
    for logical_id, resource in raw["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if isinstance(event, dict) and event.get("Type") in ("Schedule", "ScheduleV2"):
                found.append((logical_id, event_name))
    return found


def scheduled_event(root: Path, logical_id: str, event_name: str) -> dict[str, Any]:
    """An EventBridge scheduled event: events/scheduled.json when there is one, with a fresh id and time."""
    sample = root / "events" / "scheduled.json"
    if sample.is_file():
        event = json.loads(sample.read_text(encoding="utf-8"))
    else:
        event = {
            "version": "0",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/sessiongate-{logical_id}{event_name}"],
            "detail": {},
        }
    event["id"] = str(uuid.uuid4())
    event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def env_json(model: Model, settings: Settings) -> dict[str, Any]:
    """local/env.json for `sam local start-api --env-vars` (Docker): the same moto, reached from a container."""
    names = settings.table_names
    document: dict[str, Any] = {}
    for function in model.functions:
        variables = dict(((function.environment or {}).get("Variables")) or {})
        raw = _raw_environment(model.raw, function.name)
        entry = {k: _table_value(raw.get(k), names) for k in variables if _table_value(raw.get(k), names)}
        entry.update(
            {
                "AWS_ENDPOINT_URL_DYNAMODB": "http://host.docker.internal:4566",
                "AUTH_SECRET": "replace-me-with-the-AUTH_SECRET-printed-by-make-run",
            }
        )
        if "AUTH_SECRET_ARN" in variables:
            entry["AUTH_SECRET_ARN"] = ""
        document[function.name] = dict(sorted(entry.items()))
    return document
