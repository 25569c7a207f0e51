"""sessiongate.config.load_route_rules and sessiongate.policy: route roles become a policy that stays right when cached."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from local.template import load_template, repo_root
from sessiongate import policy
from sessiongate.config import HTTP_VERBS, ROLES, RouteRule, load_route_rules
from sessiongate.errors import ConfigError, Forbidden
from sessiongate.models import UserRole
from sessiongate.sessions import Principal
from tests.helpers import policy_allows

ROOT = repo_root()
API = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod"
USER = Principal(user_id="u1", session_id="s1", role="USER", email="u@example.com")
ADMIN = Principal(user_id="a1", session_id="s2", role="ADMIN", email="a@example.com")


def template_default() -> str:
    return load_template(ROOT / "template.yaml")["Parameters"]["RouteRoles"]["Default"]


def test_known_roles_are_the_models_roles() -> None:
    assert {role.value for role in UserRole} == ROLES


def test_unset_or_empty_means_no_rule() -> None:
    assert load_route_rules({}) == ()
    assert load_route_rules({"ROUTE_ROLES": " , "}) == ()


def test_rules_are_parsed() -> None:
    # Given two rules, one for every method and one for a single verb, with stray spaces
    rules = load_route_rules({"ROUTE_ROLES": " ADMIN:*/admin/* , ADMIN:delete/users/*"})

    # Then each names its role, method and method-ARN path (no leading slash)
    assert rules == (RouteRule("ADMIN", "*", "admin/*"), RouteRule("ADMIN", "DELETE", "users/*"))
    assert rules[0].verbs == HTTP_VERBS
    assert rules[1].verbs == ("DELETE",)


def test_template_default_covers_admin_for_admin() -> None:
    # Given the RouteRoles parameter's default, Then /admin and everything under it needs ADMIN
    rules = load_route_rules({"ROUTE_ROLES": template_default()})
    assert {rule.role for rule in rules} == {"ADMIN"}
    assert not policy.permits("USER", "GET", "admin/users/u1/sessions", rules)
    assert not policy.permits("USER", "POST", "admin", rules)
    assert policy.permits("ADMIN", "GET", "admin/users/u1/sessions", rules)
    assert policy.permits("USER", "GET", "me", rules)
    assert policy.permits("USER", "GET", "administrators", rules)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("ADMIN", "expected ROLE:METHOD/PATH"),
        ("ADMIN:*", "expected ROLE:METHOD/PATH"),
        ("ADMIN:GET/", "expected ROLE:METHOD/PATH"),
        ("admin:*/admin/*", "unknown role"),
        ("ROOT:*/admin/*", "unknown role"),
        (":*/admin/*", "unknown role"),
        ("ADMIN:FETCH/admin/*", "method must be"),
        ("ADMIN:ANY/admin/*", "method must be"),
        ("ADMIN:*/admin/users/{id}/sessions", "write * for a {parameter}"),
        ("ADMIN:*/admin/{proxy+}", "write * for a {parameter}"),
        ("ADMIN:*/admin/a b", "write * for a {parameter}"),
        ("ADMIN:*/admin/?", "write * for a {parameter}"),
        ("ADMIN:*/admin/*,USER", "expected ROLE:METHOD/PATH"),
    ],
)
def test_bad_rules_refuse_to_start_naming_the_variable(value: str, complaint: str) -> None:
    # Given a rule the authorizer cannot turn into a correct policy
    # When the rules are loaded, Then ConfigError names ROUTE_ROLES and says what is wrong
    with pytest.raises(ConfigError, match="ROUTE_ROLES") as raised:
        load_route_rules({"ROUTE_ROLES": value})
    assert complaint in str(raised.value)


def test_authorizer_with_bad_rules_fails_its_cold_start() -> None:
    # Given the authorizer's environment with a rule naming a path parameter
    env = {
        **os.environ,
        "ROUTE_ROLES": "ADMIN:*/admin/{id}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "sessiongate")]),
    }
    # When a fresh interpreter imports the handler (a Lambda init)
    result = subprocess.run(
        [sys.executable, "-c", "import functions.authorizer.app"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then the init fails with the variable's name
    assert result.returncode != 0
    assert "ConfigError: ROUTE_ROLES rule" in result.stderr


def test_authorizer_imports_stay_light() -> None:
    # Given a fresh interpreter, When it imports the authorizer (its cold start is every API's latency)
    script = (
        "import sys, functions.authorizer.app\n"
        "heavy = ('pydantic', 'argon2', 'aws_lambda_powertools.event_handler')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "sessiongate")])}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    # Then neither pydantic, argon2 nor the event-handler resolver was loaded
    assert result.stdout.strip() == "[]"


# --- policies ------------------------------------------------------------------------


def rules() -> tuple[RouteRule, ...]:
    return load_route_rules({"ROUTE_ROLES": "ADMIN:*/admin,ADMIN:*/admin/*,ADMIN:DELETE/orders/*"})


@pytest.mark.parametrize("asked_for", ["GET/me", "GET/admin/users/u1/sessions", "DELETE/orders/7"])
def test_user_policy_is_the_same_whichever_route_fetched_it(asked_for: str) -> None:
    # Given API Gateway caches the first policy of a token and reuses it on every route
    # When the USER's policy is built for different first routes, Then it is the same policy
    first = policy.rest_policy(USER, policy.route_of(f"{API}/GET/me"), rules())
    assert policy.rest_policy(USER, policy.route_of(f"{API}/{asked_for}"), rules()) == first


def test_user_policy_denies_rule_routes_and_allows_the_others() -> None:
    answer = policy.rest_policy(USER, policy.route_of(f"{API}/GET/me"), rules())
    for denied in ("GET/admin", "POST/admin/x", "PATCH/admin/users/u1/sessions", "DELETE/orders/7"):
        assert not policy_allows(answer, f"{API}/{denied}"), denied
    # The verbs are listed one by one: a `*` there would also span `/` and deny /users/admin/...
    for allowed in ("GET/me", "GET/orders/7", "GET/users/admin/x", "GET/administrators", "OPTIONS/adminx"):
        assert policy_allows(answer, f"{API}/{allowed}"), allowed
    assert not policy_allows(answer, "arn:aws:execute-api:us-east-1:123456789012:other9/prod/GET/me")


def test_admin_policy_allows_everything_of_this_api_and_stage() -> None:
    answer = policy.rest_policy(ADMIN, policy.route_of(f"{API}/GET/me"), rules())
    assert [s["Effect"] for s in answer["policyDocument"]["Statement"]] == ["Allow"]
    assert policy_allows(answer, f"{API}/GET/admin/users/u1/sessions")


def test_partition_comes_from_the_arn() -> None:
    answer = policy.rest_policy(ADMIN, policy.route_of("arn:aws-cn:execute-api:cn-north-1:1:abc123/prod/GET/me"), ())
    assert answer["policyDocument"]["Statement"][0]["Resource"] == [
        "arn:aws-cn:execute-api:cn-north-1:1:abc123/prod/*/*"
    ]


def test_http_api_response_follows_the_rules() -> None:
    admin_route = policy.route_of("arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/admin/users/u1")
    assert policy.http_api_response(ADMIN, admin_route, rules()) == {"isAuthorized": True, "context": ADMIN.context()}
    with pytest.raises(Forbidden):
        policy.http_api_response(USER, admin_route, rules())
    me = policy.route_of("arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/me")
    assert policy.http_api_response(USER, me, rules())["isAuthorized"] is True
    assert policy.http_api_denial() == {"isAuthorized": False}


@pytest.mark.parametrize(
    "arn",
    [
        None,
        42,
        "",
        "not-an-arn",
        "arn:aws:execute-api:us-east-1:123456789012:abc123",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod",
        "arn:aws:execute-api:us-east-1:123456789012:abc123//GET/me",
        "arn:aws:lambda:us-east-1:123456789012:abc123/prod/GET/me",
        "arn:aws:execute-api::123456789012:abc123/prod/GET/me",
    ],
)
def test_malformed_arns_are_refused(arn: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - route_of has one failure
        policy.route_of(arn)
