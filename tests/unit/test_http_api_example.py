"""examples/http-api/template.yaml wires an HTTP API to sessiongate's authorizer the way the authorizer expects."""

from __future__ import annotations

from local.template import load_template, repo_root

EXAMPLE = repo_root() / "examples" / "http-api" / "template.yaml"


def test_http_api_authorizer_is_payload_2_simple_and_cached_per_route() -> None:
    # Given the example's HTTP API
    resources = load_template(EXAMPLE)["Resources"]
    auth = resources["ExampleHttpApi"]["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]

    # Then it sends payload 2.0 events and reads simple responses, from the Authorization header
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    assert authorizer["Identity"]["Headers"] == ["Authorization"]
    # And its cache is per route: a simple response answers for every request sharing the cache key
    assert "routeKey" in authorizer["Identity"]["Context"]
    assert authorizer["Identity"]["ReauthorizeEvery"] == {"Ref": "AuthorizerCacheTtlSeconds"}


def test_api_gateway_may_invoke_the_authorizer_for_this_api_only() -> None:
    resources = load_template(EXAMPLE)["Resources"]
    permission = resources["AuthorizerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "AuthorizerFunctionArn"}
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert "${ExampleHttpApi}/authorizers/*" in permission["SourceArn"]["Fn::Sub"]
