"""The TOKEN authorizer on moto: Allow only for a valid token of a live session, fail closed otherwise."""

from __future__ import annotations

import time

import jwt
import pytest
from botocore.stub import Stubber

from functions.authorizer import app as authorizer
from sessiongate import sessions, tokens
from sessiongate.config import load_route_rules
from sessiongate.models import Session
from tests.conftest import TEST_SECRET
from tests.helpers import FakeContext, policy_allows, token_event
from tests.integration.conftest import DEMO_PASSWORD, set_session_attr

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/me"


def call(header, method_arn: str = ARN):
    return authorizer.lambda_handler(token_event(header, method_arn), FakeContext())


def assert_unauthorized(header, method_arn: str = ARN):
    """C02: exactly Exception("Unauthorized"), never a dict with a statusCode, never another exception."""
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the type must be exactly Exception
        call(header, method_arn)
    assert type(raised.value) is Exception
    assert str(raised.value) == "Unauthorized"


def test_allow_policy_covers_every_route_of_this_api_and_stage_only(issued):
    # C01: the cached policy must not 403 the next route, and must not open another API or stage
    policy = call(f"Bearer {issued.access_token}")
    for route in ("GET/me", "POST/auth/sign-out", "POST/auth/refresh", "GET/orders/42"):
        assert policy_allows(policy, f"arn:aws:execute-api:us-east-1:123456789012:abc123/prod/{route}")
    assert not policy_allows(policy, "arn:aws:execute-api:us-east-1:123456789012:other9/prod/GET/me")
    assert not policy_allows(policy, "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/me")
    assert not policy_allows(policy, "arn:aws:execute-api:us-east-1:999999999999:abc123/prod/GET/me")


def test_principal_and_context_are_scalars(issued, user):
    # C03
    policy = call(f"Bearer {issued.access_token}")
    assert isinstance(policy["principalId"], str) and policy["principalId"] == user.id
    assert policy["context"] == {
        "userId": user.id,
        "sessionId": issued.session_id,
        "role": "USER",
        "email": "ada@example.com",
    }
    assert all(type(v) in (str, int, float, bool) for v in policy["context"].values())


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_scheme_is_case_insensitive(issued, scheme):
    assert call(f"{scheme} {issued.access_token}")["principalId"]


@pytest.mark.parametrize(
    "header_format",
    ["Bearer", "Bearer ", "Basic {t}", "{t}", "Bearer  {t}", "Bearer {t} ", "Bearer a.b", "", "Bearer {t}.x"],
)
def test_malformed_headers_are_unauthorized(issued, header_format):
    # C04
    assert_unauthorized(header_format.format(t=issued.access_token))


def forge(claims: dict, *, key: str = TEST_SECRET, alg: str = "HS256", headers: dict | None = None) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": "local", "typ": "at+jwt", **(headers or {})})


def claims_of(issued) -> dict:
    return jwt.decode(issued.access_token, options={"verify_signature": False})


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # forging HS512 with our key
def test_alg_none_other_algorithms_and_other_secrets_are_unauthorized(issued):
    # C05
    claims = claims_of(issued)
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "local", "typ": "at+jwt"})
    for token in (
        unsigned,
        unsigned.rsplit(".", 1)[0] + ".",
        forge(claims, alg="HS512"),
        forge(claims, key="another-secret-that-is-32-bytes-long!!"),
    ):
        assert_unauthorized(f"Bearer {token}")


@pytest.mark.parametrize("exp", [[1], {}, None, "9999999999", 10**50])
def test_bad_or_absurd_exp_is_unauthorized(issued, exp):
    # C06: never a TypeError or OverflowError, never a token living beyond its lifetime
    assert_unauthorized(f"Bearer {forge({**claims_of(issued), 'exp': exp})}")


def test_expired_token_is_unauthorized(issued):
    now = int(time.time())
    assert_unauthorized(f"Bearer {forge({**claims_of(issued), 'iat': now - 100, 'exp': now})}")


def test_expired_session_row_is_unauthorized_even_with_a_live_token(issued, tables, expired_rows_stay):
    # C08: TTL has not removed the row; the authorizer checks expires itself
    set_session_attr(tables, issued.session_id, "expires", int(time.time()) - 1)
    assert_unauthorized(f"Bearer {issued.access_token}")


def test_unknown_and_revoked_sessions_are_unauthorized(issued):
    sessions.sign_out(session_id=issued.session_id)
    assert_unauthorized(f"Bearer {issued.access_token}")


def test_sub_not_matching_the_session_owner_is_unauthorized(issued):
    assert_unauthorized(f"Bearer {forge({**claims_of(issued), 'sub': 'someone-else'})}")


def test_malformed_method_arn_is_unauthorized(issued):
    assert_unauthorized(f"Bearer {issued.access_token}", method_arn="not-an-arn")


@pytest.mark.parametrize(
    "error_code",
    [
        "ProvisionedThroughputExceededException",
        "InternalServerError",
        "ResourceNotFoundException",
        "ThrottlingException",
    ],
)
def test_dynamodb_errors_fail_closed(issued, error_code):
    # Given DynamoDB failing at the AWS edge, then the authorizer says Unauthorized, not 500 or Allow
    client = Session._get_connection().connection.client
    with Stubber(client) as stubber:
        for _ in range(5):  # PynamoDB retries
            stubber.add_client_error("get_item", service_error_code=error_code, http_status_code=500)
        assert_unauthorized(f"Bearer {issued.access_token}")


def test_refresh_token_presented_as_access_token_is_unauthorized(issued):
    assert_unauthorized(f"Bearer {issued.refresh_token}")


def test_one_read_and_no_write_per_authorization(issued):
    calls = []
    client = Session._get_connection().connection.client
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    try:
        call(f"Bearer {issued.access_token}")
    finally:
        client.meta.events.unregister("before-call.dynamodb")
    assert calls == ["GetItem"]
    assert tokens.ACCESS_TOKEN_TYPE == jwt.get_unverified_header(issued.access_token)["typ"]


def test_denials_are_counted_by_reason_and_outages_as_failures(issued, capsys):
    # Given one bad token and one DynamoDB outage
    assert_unauthorized("Bearer not-a-token")
    client = Session._get_connection().connection.client
    with Stubber(client) as stubber:
        for _ in range(5):
            stubber.add_client_error("get_item", service_error_code="InternalServerError", http_status_code=500)
        assert_unauthorized(f"Bearer {issued.access_token}")
    # Then the metrics say which was which (EMF lines on stdout)
    out = capsys.readouterr().out.replace(" ", "")
    assert '"reason":"invalid_token"' in out and '"reason":"backend_unavailable"' in out
    assert '"AuthorizerFailures":[1.0]' in out


# --- route roles ------------------------------------------------------------------------

API = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"
ADMIN_ROUTE = f"{API}/GET/admin/users/u1/sessions"


@pytest.fixture
def route_roles(monkeypatch, template):
    """The authorizer with the template's default ROUTE_ROLES (RouteRoles parameter), as deployed."""
    rules = load_route_rules({"ROUTE_ROLES": template["Parameters"]["RouteRoles"]["Default"]})
    monkeypatch.setattr(authorizer, "route_rules", rules)
    return rules


@pytest.fixture
def admin_issued(tables, settings, keys, passwords):
    """A signed-in session of an ADMIN user."""
    now = int(time.time())
    admin = sessions.create_user(
        passwords, email="root@example.com", password=DEMO_PASSWORD, name="Root", role="ADMIN", now=now
    )
    return sessions.sign_in(
        settings, keys, passwords, email=admin.email, password=DEMO_PASSWORD, user_agent=None, source_ip=None, now=now
    )


@pytest.mark.parametrize("first_route", [ARN, ADMIN_ROUTE])
def test_user_policy_denies_admin_routes_and_allows_the_others(issued, route_roles, first_route):
    # Given a USER's token, whichever route API Gateway asked the authorizer about first
    policy = call(f"Bearer {issued.access_token}", first_route)

    # Then the one cached policy answers 403 (explicit Deny) on every ADMIN route...
    for route in ("GET/admin/users/u1/sessions", "DELETE/admin/users/u1/sessions", "GET/admin"):
        assert not policy_allows(policy, f"{API}/{route}"), route
    assert any(s["Effect"] == "Deny" for s in policy["policyDocument"]["Statement"])
    # ...and still allows every other route of the API and stage
    for route in ("GET/me", "POST/auth/sign-out", "GET/auth/sessions", "GET/administrators", "GET/users/admin/x"):
        assert policy_allows(policy, f"{API}/{route}"), route
    assert policy["context"]["role"] == "USER"


def test_admin_policy_allows_admin_routes(admin_issued, route_roles):
    policy = call(f"Bearer {admin_issued.access_token}")
    assert policy_allows(policy, ADMIN_ROUTE)
    assert policy_allows(policy, f"{API}/GET/me")
    assert policy["context"]["role"] == "ADMIN"
    assert [s["Effect"] for s in policy["policyDocument"]["Statement"]] == ["Allow"]


def test_without_rules_every_role_is_allowed_everywhere(issued, monkeypatch):
    monkeypatch.setattr(authorizer, "route_rules", ())
    assert policy_allows(call(f"Bearer {issued.access_token}"), ADMIN_ROUTE)
