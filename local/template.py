"""Read template.yaml and build its DynamoDB tables.

Imported by the local stack (SAM CLI's virtualenv) and by the integration
tests (the dev virtualenv), so it needs nothing but boto3 and PyYAML.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TABLE_NAMES = {
    "SessionsTable": ("SESSIONS_TABLE", "sessiongate-sessions"),
    "UsersTable": ("USERS_TABLE", "sessiongate-users"),
}

# Properties of AWS::DynamoDB::Table that map one to one onto CreateTable.
_PASS_THROUGH = ("AttributeDefinitions", "KeySchema", "ProvisionedThroughput", "Tags")
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short-form tags (!Ref, !GetAtt, ...)."""


def _construct_tag(tag: str):
    name = "Ref" if tag == "Ref" else ("Condition" if tag == "Condition" else f"Fn::{tag}")

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag in (
    "Ref", "Condition", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
    "FindInMap", "Base64", "Cidr", "ImportValue", "GetAZs", "Transform", "ToJsonString", "Length",
):  # fmt: skip
    CfnLoader.add_constructor(f"!{_tag}", _construct_tag(_tag))


def load_template(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a SAM/CloudFormation template, keeping intrinsics as their long form."""
    with open(path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise ValueError(f"{path}: not a template (no Resources mapping)")
    return template


def parse_parameter_overrides(text: str | None) -> dict[str, str]:
    """Parse sam's ``Key=Value Key2=Value2`` (or ``ParameterKey=K,ParameterValue=V``) syntax."""
    overrides: dict[str, str] = {}
    for item in shlex.split(text or ""):
        if item.startswith("ParameterKey="):
            key_part, _, value_part = item.partition(",")
            key, value = key_part[len("ParameterKey=") :], value_part.removeprefix("ParameterValue=")
        else:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"parameter override {item!r} is not Key=Value")
        overrides[key] = value
    return overrides


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each template parameter's value: the override if given, else its Default."""
    values = {
        name: str(spec["Default"])
        for name, spec in (template.get("Parameters") or {}).items()
        if isinstance(spec, Mapping) and "Default" in spec
    }
    values.update(overrides or {})
    return values


def table_resources(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every AWS::DynamoDB::Table in the template."""
    return {
        logical_id: dict(resource.get("Properties") or {})
        for logical_id, resource in template["Resources"].items()
        if isinstance(resource, Mapping) and resource.get("Type") == "AWS::DynamoDB::Table"
    }


def default_table_names(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Physical names of the two tables: SESSIONS_TABLE / USERS_TABLE, else the sessiongate defaults."""
    environ = os.environ if environ is None else environ
    return {logical_id: environ.get(var) or default for logical_id, (var, default) in DEFAULT_TABLE_NAMES.items()}


def _resolve(value: Any, parameters: Mapping[str, str], where: str) -> Any:
    """Resolve the few intrinsics a table definition may use (!Ref of a parameter, AWS::NoValue)."""
    if isinstance(value, list):
        return [_resolve(item, parameters, where) for item in value if item != {"Ref": "AWS::NoValue"}]
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            if value["Ref"] in parameters:
                return parameters[value["Ref"]]
            raise ValueError(f"{where}: cannot resolve !Ref {value['Ref']} locally")
        if len(value) == 1 and next(iter(value)).startswith("Fn::"):
            raise ValueError(f"{where}: intrinsic {next(iter(value))} is not supported in a table definition")
        return {k: _resolve(v, parameters, where) for k, v in value.items() if v != {"Ref": "AWS::NoValue"}}
    return value


def create_table_request(properties: Mapping[str, Any], table_name: str) -> dict[str, Any]:
    """Translate AWS::DynamoDB::Table Properties into CreateTable arguments."""
    request: dict[str, Any] = {"TableName": table_name}
    request.update({key: properties[key] for key in _PASS_THROUGH if key in properties})
    billing_mode = properties.get("BillingMode", "PROVISIONED")
    request["BillingMode"] = billing_mode
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if properties.get(key):
            request[key] = [{k: index[k] for k in _INDEX_KEYS if k in index} for index in properties[key]]
    stream = properties.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = properties.get("SSESpecification")
    if sse:
        request["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))}
        request["SSESpecification"].update({k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse})
    return request


def create_tables(
    dynamodb_client: Any,
    template: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create every AWS::DynamoDB::Table of ``template`` that does not exist yet, then apply its TTL.

    ``names`` maps logical ids to physical table names (default: the table's
    TableName, else its logical id). Idempotent. Returns logical id -> name.
    """
    names = dict(names or {})
    parameters = parameter_values(template) if parameters is None else dict(parameters)
    created: dict[str, str] = {}
    for logical_id, raw in table_resources(template).items():
        properties = _resolve(raw, parameters, f"Resources.{logical_id}")
        table_name = names.get(logical_id) or properties.get("TableName") or logical_id
        try:
            dynamodb_client.create_table(**create_table_request(properties, table_name))
        except dynamodb_client.exceptions.ResourceInUseException:
            pass  # already there: keep its data
        dynamodb_client.get_waiter("table_exists").wait(
            TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            _enable_ttl(dynamodb_client, table_name, ttl["AttributeName"])
        created[logical_id] = table_name
    return created


def _enable_ttl(dynamodb_client: Any, table_name: str, attribute: str) -> None:
    current = dynamodb_client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and current.get("AttributeName") == attribute:
        return
    dynamodb_client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
    )


def repo_root() -> Path:
    """The repository root (the folder holding template.yaml and local/)."""
    return Path(os.path.abspath(__file__)).parent.parent  # abspath: a symlinked checkout stays itself
