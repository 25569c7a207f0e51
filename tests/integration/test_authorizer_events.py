"""The authorizer on REST REQUEST and HTTP API (payload 2.0) events: the same sessions, the same fail-closed rules.

REST (TOKEN and REQUEST) refuses with exactly Exception("Unauthorized") (401) and answers role rules
with explicit Deny statements (403). HTTP API simple responses refuse with {"isAuthorized": false}
(403): the only refusal HTTP APIs document for them; anything else they cannot read is a 500.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from botocore.stub import Stubber

from functions.authorizer import app as authorizer
from local.template import repo_root
from sessiongate.config import load_route_rules
from sessiongate.models import Session
from tests.helpers import FakeContext, http_api_event, load_event, policy_allows, request_event, token_event

REST_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/me"
REST_ADMIN_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/admin/users/u1/sessions"
HTTP_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/me"
HTTP_ADMIN_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/admin/users/u1/sessions"
DENIED = {"isAuthorized": False}


@pytest.fixture(autouse=True)
def route_roles(monkeypatch, template):
    monkeypatch.setattr(
        authorizer, "route_rules", load_route_rules({"ROUTE_ROLES": template["Parameters"]["RouteRoles"]["Default"]})
    )


def invoke(event):
    return authorizer.lambda_handler(event, FakeContext())


def assert_unauthorized(event):
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the type must be exactly Exception
        invoke(event)
    assert type(raised.value) is Exception
    assert str(raised.value) == "Unauthorized"


def scalars(context: dict) -> bool:
    return all(type(value) in (str, int, float, bool) for value in context.values())


# --- REST REQUEST -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
def test_request_event_allows_with_the_policy_of_a_token_event(issued, user, name):
    # Given a REST REQUEST event carrying the token in an Authorization header of any case
    policy = invoke(request_event({name: f"Bearer {issued.access_token}", "Accept": "*/*"}))

    # Then it gets the same policy as a TOKEN event: every route but the ADMIN ones
    assert policy == invoke(token_event(f"Bearer {issued.access_token}", REST_ARN))
    assert policy["principalId"] == user.id and scalars(policy["context"])
    assert policy_allows(policy, "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/auth/sign-out")
    assert not policy_allows(policy, REST_ADMIN_ARN)


def test_request_event_reads_the_access_token_cookie_in_cookie_mode(issued):
    cookie = f"theme=dark; sg_access={issued.access_token}"
    policy = invoke(request_event({"X-Session-Mode": "cookie", "Cookie": cookie}))
    assert policy_allows(policy, REST_ARN)
    # Without the cookie-mode header (what a cross-site form sends): the cookie is not a credential
    with pytest.raises(Exception, match="^Unauthorized$"):
        invoke(request_event({"Cookie": cookie}))


def test_request_event_of_an_http_api_payload_1_0_is_answered_with_a_policy(issued):
    # HTTP API payload 1.0 is REST's REQUEST shape with a version and an identitySource
    event = request_event({"authorization": f"Bearer {issued.access_token}"})
    event.update(version="1.0", identitySource=f"Bearer {issued.access_token}")
    assert policy_allows(invoke(event), REST_ARN)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e, t: e.pop("headers"),
        lambda e, t: e.update(headers=None, multiValueHeaders=None),
        lambda e, t: e.update(headers=["Authorization", f"Bearer {t}"]),
        lambda e, t: e.pop("methodArn"),
        lambda e, t: e.update(methodArn="not-an-arn"),
        lambda e, t: e.update(methodArn=None),
        lambda e, t: e["multiValueHeaders"].update(Authorization=[f"Bearer {t}", f"Bearer {t}"]),
        lambda e, t: e["headers"].update(authorization=f"Bearer {t}"),
        lambda e, t: e["headers"].update(Authorization=f"Basic {t}"),
        lambda e, t: e["headers"].update(Authorization=[f"Bearer {t}"]),
        lambda e, t: e.update(type="request"),
        lambda e, t: e.pop("type"),
    ],
)
def test_malformed_request_events_are_unauthorized(issued, mutate):
    # Given a REST REQUEST event with a valid token but something wrong around it
    event = request_event({"Authorization": f"Bearer {issued.access_token}"})
    mutate(event, issued.access_token)
    # Then exactly Unauthorized, never another exception
    assert_unauthorized(event)


def test_request_event_with_a_revoked_session_is_unauthorized(issued):
    from sessiongate import sessions

    sessions.sign_out(session_id=issued.session_id)
    assert_unauthorized(request_event({"Authorization": f"Bearer {issued.access_token}"}))


@pytest.mark.parametrize("event", [None, [], "TOKEN", 42, {}, {"type": "WEBSOCKET"}, {"version": "3.0"}])
def test_unknown_events_are_unauthorized(event):
    assert_unauthorized(event)


def test_sample_events_with_their_placeholder_tokens_are_refused(tables):
    assert_unauthorized(load_event("authorizer_token"))
    assert_unauthorized(load_event("authorizer_request"))
    assert invoke(load_event("authorizer_http_api")) == DENIED


# --- HTTP API payload 2.0 ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["authorization", "Authorization"])
def test_http_api_allows_with_a_simple_response(issued, user, name):
    answer = invoke(http_api_event({name: f"Bearer {issued.access_token}"}))
    assert answer == {
        "isAuthorized": True,
        "context": {"userId": user.id, "sessionId": issued.session_id, "role": "USER", "email": "ada@example.com"},
    }
    assert scalars(answer["context"])


def test_http_api_reads_the_access_token_cookie_in_cookie_mode(issued):
    cookies = ["theme=dark", f"sg_access={issued.access_token}"]
    answer = invoke(http_api_event({"x-session-mode": "cookie"}, cookies=cookies))
    assert answer["isAuthorized"] is True
    assert invoke(http_api_event({}, cookies=cookies)) == DENIED


def test_http_api_user_on_an_admin_route_is_not_authorized(issued):
    assert invoke(http_api_event({"authorization": f"Bearer {issued.access_token}"}, HTTP_ADMIN_ARN)) == DENIED


def test_http_api_admin_on_an_admin_route_is_authorized(tables, settings, keys, passwords):
    import time

    from sessiongate import sessions
    from tests.integration.conftest import DEMO_PASSWORD

    now = int(time.time())
    admin = sessions.create_user(
        passwords, email="root@example.com", password=DEMO_PASSWORD, name=None, role="ADMIN", now=now
    )
    issued = sessions.sign_in(
        settings, keys, passwords, email=admin.email, password=DEMO_PASSWORD, user_agent=None, source_ip=None, now=now
    )
    answer = invoke(http_api_event({"authorization": f"Bearer {issued.access_token}"}, HTTP_ADMIN_ARN))
    assert answer["isAuthorized"] is True and answer["context"]["role"] == "ADMIN"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e, t: e.pop("headers"),
        lambda e, t: e.update(headers=None),
        lambda e, t: e.update(headers="authorization"),
        lambda e, t: e.pop("routeArn"),
        lambda e, t: e.update(routeArn="arn:aws:execute-api:us-east-1:123456789012:abc123"),
        lambda e, t: e.update(routeArn=["x"]),
        lambda e, t: e["headers"].update(authorization=f"Bearer {t},Bearer {t}"),
        lambda e, t: e["headers"].update(Authorization=f"Bearer {t}"),
        lambda e, t: e["headers"].update(authorization="Bearer"),
        lambda e, t: e["headers"].update(authorization=f"Basic {t}"),
        lambda e, t: e["headers"].update(authorization=None),
        lambda e, t: e["headers"].update(authorization=f"Bearer {t[:-2]}"),
    ],
)
def test_malformed_http_api_events_are_not_authorized(issued, mutate):
    # Given a payload 2.0 event with a valid token but something wrong around it
    event = http_api_event({"authorization": f"Bearer {issued.access_token}"})
    mutate(event, issued.access_token)
    # Then isAuthorized false, never an exception
    assert invoke(event) == DENIED


@pytest.mark.parametrize("cookies", ["sg_access=x", [None, 1], {"sg_access": "x"}])
def test_http_api_cookies_of_the_wrong_type_are_ignored(issued, cookies):
    assert invoke(http_api_event({}, cookies=cookies)) == DENIED
    assert invoke(http_api_event({"authorization": f"Bearer {issued.access_token}"}, cookies=cookies))["isAuthorized"]


def test_http_api_outage_is_not_authorized_and_counted_as_a_failure(issued, capsys):
    client = Session._get_connection().connection.client
    with Stubber(client) as stubber:
        for _ in range(5):
            stubber.add_client_error("get_item", service_error_code="InternalServerError", http_status_code=500)
        assert invoke(http_api_event({"authorization": f"Bearer {issued.access_token}"})) == DENIED
    out = capsys.readouterr().out.replace(" ", "")
    assert '"reason":"backend_unavailable"' in out and '"AuthorizerFailures":[1.0]' in out


def test_http_api_role_refusal_is_counted_as_forbidden(issued, capsys):
    invoke(http_api_event({"authorization": f"Bearer {issued.access_token}"}, HTTP_ADMIN_ARN))
    assert '"reason":"forbidden"' in capsys.readouterr().out.replace(" ", "")


# --- SAM CLI's own reading of the answers ------------------------------------------------

SAM_PYTHON = Path(os.environ.get("SESSIONGATE_SAM_PYTHON") or repo_root() / ".venv-sam" / "bin" / "python")
SAM_CHECK = textwrap.dedent(
    """
    import json, sys
    from samcli.local.apigw.authorizers.lambda_authorizer import LambdaAuthorizer
    from samcli.local.apigw.exceptions import InvalidLambdaAuthorizerResponse
    from local.apigw import explicit_deny

    results = []
    for case in json.load(sys.stdin):
        authorizer = LambdaAuthorizer(
            "SessionGate", case["type"], "AuthorizerFunction", case["identity"], case["payload"],
            use_simple_response=case["simple"],
        )
        body = json.dumps(case["response"])
        try:
            allowed = authorizer.is_valid_response(body, case["arn"])
            context = authorizer.get_context(body)
        except InvalidLambdaAuthorizerResponse as exc:
            results.append({"valid": False, "error": str(exc)})
            continue
        if not case["simple"] and explicit_deny(case["response"], case["arn"]):
            allowed = False  # SAM CLI reads Allow statements only; the local stack adds IAM's Deny
        results.append({"valid": True, "allowed": allowed, "context": context})
    print(json.dumps(results))
    """
)


def sam_check(cases: list[dict]) -> list[dict]:
    if not SAM_PYTHON.exists():
        pytest.skip(f"SAM CLI interpreter not found at {SAM_PYTHON} (make venv)")
    root = repo_root()
    result = subprocess.run(
        [str(SAM_PYTHON), "-c", SAM_CHECK],
        input=json.dumps(cases),
        env={**os.environ, "PYTHONPATH": str(root), "SAM_CLI_TELEMETRY": "0"},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def test_sam_cli_accepts_every_answer_and_reads_it_as_api_gateway_would(issued):
    # Given the authorizer's answers to each kind of event, for a USER on an ordinary and an ADMIN route
    header = f"Bearer {issued.access_token}"
    rest_token = {
        "type": "TOKEN",
        "payload": "1.0",
        "simple": False,
        "identity": ["method.request.header.Authorization"],
    }
    rest_request = {**rest_token, "type": "REQUEST"}
    http_api = {
        "type": "REQUEST",
        "payload": "2.0",
        "simple": True,
        "identity": ["$request.header.Authorization", "$context.routeKey"],
    }
    cases = [
        {**rest_token, "arn": REST_ARN, "response": invoke(token_event(header, REST_ARN))},
        {**rest_token, "arn": REST_ADMIN_ARN, "response": invoke(token_event(header, REST_ARN))},
        {**rest_request, "arn": REST_ARN, "response": invoke(request_event({"Authorization": header}))},
        {**rest_request, "arn": REST_ADMIN_ARN, "response": invoke(request_event({"Authorization": header}))},
        {**http_api, "arn": HTTP_ARN, "response": invoke(http_api_event({"authorization": header}))},
        {
            **http_api,
            "arn": HTTP_ADMIN_ARN,
            "response": invoke(http_api_event({"authorization": header}, HTTP_ADMIN_ARN)),
        },
        {**http_api, "arn": HTTP_ARN, "response": invoke(http_api_event({"authorization": "Bearer nope"}))},
    ]

    # When SAM CLI validates them, Then each is well-formed, and allowed exactly where it should be
    results = sam_check(cases)
    assert all(r["valid"] for r in results), results
    assert [r["allowed"] for r in results] == [True, False, True, False, True, False, False]
    assert results[0]["context"]["userId"] == results[4]["context"]["userId"] == issued.user.id
