"""sessiongate.config: settings parsed once from an environment mapping, bad values refused by name."""

from __future__ import annotations

import dataclasses
import re

import pytest

from sessiongate.config import MIN_SECRET_BYTES, load_settings
from sessiongate.errors import ConfigError
from tests.conftest import TEST_SECRET

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sessiongate-signing-AbCdEf"

INTEGER_VARIABLES = [
    "ACCESS_TOKEN_TTL_SECONDS",
    "SESSION_IDLE_TIMEOUT_SECONDS",
    "SESSION_ABSOLUTE_TIMEOUT_SECONDS",
    "REFRESH_REUSE_GRACE_SECONDS",
    "MAX_FAILED_SIGN_INS",
    "LOCKOUT_SECONDS",
    "TOKEN_LEEWAY_SECONDS",
]
# Variables for which zero makes no sense: a 0 s token, no sign-in allowed, a 0 s lockout.
POSITIVE_VARIABLES = ["ACCESS_TOKEN_TTL_SECONDS", "MAX_FAILED_SIGN_INS", "LOCKOUT_SECONDS"]


def test_defaults_follow_the_design() -> None:
    # Given an environment with only a signing secret
    env = {"AUTH_SECRET": TEST_SECRET}

    # When the settings are loaded
    settings = load_settings(env)

    # Then every other value is the documented default
    assert settings.sessions_table == "sessiongate-sessions"
    assert settings.users_table == "sessiongate-users"
    assert settings.token_issuer == "sessiongate"
    assert settings.token_audience == "sessiongate-api"
    assert settings.access_token_ttl == 900
    assert settings.idle_timeout == 2_592_000
    assert settings.absolute_timeout == 7_776_000
    assert settings.reuse_grace == 10
    assert settings.max_failed_sign_ins == 5
    assert settings.lockout_seconds == 900
    assert settings.leeway == 5
    assert settings.auth_secret == TEST_SECRET.encode()
    assert settings.auth_secret_arn is None
    assert settings.cookie_same_site == "Strict"
    assert settings.access_token_cookie is False
    assert settings.cors_allowed_origins == ()


def test_empty_values_fall_back_to_defaults() -> None:
    # Given variables that are set but empty (what a blank template parameter yields)
    env = {"AUTH_SECRET": TEST_SECRET, "TOKEN_ISSUER": "", "ACCESS_TOKEN_TTL_SECONDS": "  ", "SESSIONS_TABLE": ""}

    # When the settings are loaded
    settings = load_settings(env)

    # Then the defaults apply
    assert settings.token_issuer == "sessiongate"
    assert settings.access_token_ttl == 900
    assert settings.sessions_table == "sessiongate-sessions"


def test_values_from_the_environment_are_parsed() -> None:
    # Given every variable set
    env = {
        "AUTH_SECRET": TEST_SECRET,
        "SESSIONS_TABLE": "s-table",
        "USERS_TABLE": "u-table",
        "TOKEN_ISSUER": "https://auth.example.com",
        "TOKEN_AUDIENCE": "orders-api",
        "ACCESS_TOKEN_TTL_SECONDS": " 300 ",
        "SESSION_IDLE_TIMEOUT_SECONDS": "3600",
        "SESSION_ABSOLUTE_TIMEOUT_SECONDS": "86400",
        "REFRESH_REUSE_GRACE_SECONDS": "0",
        "MAX_FAILED_SIGN_INS": "3",
        "LOCKOUT_SECONDS": "60",
        "TOKEN_LEEWAY_SECONDS": "0",
    }

    # When the settings are loaded
    settings = load_settings(env)

    # Then each one is read, integers as integers
    assert (settings.sessions_table, settings.users_table) == ("s-table", "u-table")
    assert (settings.token_issuer, settings.token_audience) == ("https://auth.example.com", "orders-api")
    assert settings.access_token_ttl == 300
    assert (settings.idle_timeout, settings.absolute_timeout) == (3600, 86400)
    assert (settings.reuse_grace, settings.max_failed_sign_ins, settings.lockout_seconds) == (0, 3, 60)
    assert settings.leeway == 0


def test_without_a_mapping_the_process_environment_is_read() -> None:
    # Given the test environment set by tests/conftest.py
    # When load_settings is called without a mapping
    settings = load_settings()

    # Then it reads os.environ
    assert settings.auth_secret == TEST_SECRET.encode()
    assert settings.sessions_table == "test-sessions"


def test_settings_are_immutable() -> None:
    # Given loaded settings
    settings = load_settings({"AUTH_SECRET": TEST_SECRET})

    # When something tries to change them, Then it cannot
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.access_token_ttl = 10**9  # type: ignore[misc]


def test_short_auth_secret_is_refused_by_name() -> None:
    # Given an AUTH_SECRET one byte shorter than the minimum
    env = {"AUTH_SECRET": "x" * (MIN_SECRET_BYTES - 1)}

    # When the settings are loaded, Then the cold start fails naming AUTH_SECRET
    with pytest.raises(ConfigError, match="AUTH_SECRET"):
        load_settings(env)


def test_short_auth_secret_error_does_not_echo_the_secret() -> None:
    # Given a short but recognisable secret
    secret = "short-secret-value"

    # When it is refused
    with pytest.raises(ConfigError) as caught:
        load_settings({"AUTH_SECRET": secret})

    # Then the message (it ends up in logs) does not contain it
    assert secret not in str(caught.value)


def test_auth_secret_length_is_counted_in_bytes() -> None:
    # Given 16 two-byte characters (32 bytes) and 15 of them plus one ASCII byte (31 bytes)
    exactly = "é" * 16
    short = "é" * 15 + "x"

    # When each is loaded, Then the 32-byte one is accepted and the 31-byte one refused
    assert load_settings({"AUTH_SECRET": exactly}).auth_secret == exactly.encode()
    with pytest.raises(ConfigError, match="AUTH_SECRET"):
        load_settings({"AUTH_SECRET": short})


def test_auth_secret_of_exactly_the_minimum_is_accepted() -> None:
    # Given a 32-byte secret
    secret = "k" * MIN_SECRET_BYTES

    # When loaded, Then it is the signing secret
    assert load_settings({"AUTH_SECRET": secret}).auth_secret == secret.encode()


@pytest.mark.parametrize(
    "env", [{}, {"AUTH_SECRET": ""}, {"AUTH_SECRET_ARN": "   "}, {"AUTH_SECRET": "", "AUTH_SECRET_ARN": ""}]
)
def test_no_signing_key_is_refused(env: dict[str, str]) -> None:
    # Given neither AUTH_SECRET nor AUTH_SECRET_ARN (or only empty values)
    # When the settings are loaded, Then the cold start fails naming both variables
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "AUTH_SECRET" in str(caught.value)
    assert "AUTH_SECRET_ARN" in str(caught.value)


def test_secret_arn_alone_is_accepted() -> None:
    # Given only the deployed variable
    # When the settings are loaded
    settings = load_settings({"AUTH_SECRET_ARN": ARN})

    # Then the keys will come from Secrets Manager
    assert settings.auth_secret is None
    assert settings.auth_secret_arn == ARN


def test_auth_secret_wins_over_the_arn() -> None:
    # Given both variables (a local override of a deployed configuration)
    # When the settings are loaded
    settings = load_settings({"AUTH_SECRET": TEST_SECRET, "AUTH_SECRET_ARN": ARN})

    # Then exactly one source is used: the local secret
    assert settings.auth_secret == TEST_SECRET.encode()
    assert settings.auth_secret_arn is None


@pytest.mark.parametrize("name", INTEGER_VARIABLES)
@pytest.mark.parametrize("raw", ["abc", "1.5", "ten", "0x10", "9e3"])
def test_non_integer_is_refused_by_name(name: str, raw: str) -> None:
    # Given an integer variable holding something else
    env = {"AUTH_SECRET": TEST_SECRET, name: raw}

    # When the settings are loaded, Then the error names the variable
    with pytest.raises(ConfigError, match=name):
        load_settings(env)


@pytest.mark.parametrize("name", INTEGER_VARIABLES)
def test_negative_integer_is_refused_by_name(name: str) -> None:
    # Given a negative duration or count
    env = {"AUTH_SECRET": TEST_SECRET, name: "-1"}

    # When the settings are loaded, Then the error names the variable
    with pytest.raises(ConfigError, match=name):
        load_settings(env)


@pytest.mark.parametrize("name", POSITIVE_VARIABLES)
def test_zero_is_refused_where_it_makes_no_sense(name: str) -> None:
    # Given zero for a value that must be positive
    env = {"AUTH_SECRET": TEST_SECRET, name: "0"}

    # When the settings are loaded, Then the error names the variable
    with pytest.raises(ConfigError, match=name):
        load_settings(env)


@pytest.mark.parametrize("name", ["SESSION_IDLE_TIMEOUT_SECONDS", "SESSION_ABSOLUTE_TIMEOUT_SECONDS"])
def test_session_timeouts_below_a_minute_are_refused(name: str) -> None:
    # Given a session timeout of a few seconds (a seconds/minutes mix-up)
    env = {"AUTH_SECRET": TEST_SECRET, "SESSION_IDLE_TIMEOUT_SECONDS": "60", name: "5"}

    # When the settings are loaded, Then the error names the variable
    with pytest.raises(ConfigError, match=name):
        load_settings(env)


def test_absolute_timeout_shorter_than_idle_is_refused() -> None:
    # Given an absolute lifetime shorter than the idle timeout
    env = {
        "AUTH_SECRET": TEST_SECRET,
        "SESSION_IDLE_TIMEOUT_SECONDS": "3600",
        "SESSION_ABSOLUTE_TIMEOUT_SECONDS": "3599",
    }

    # When the settings are loaded, Then the error names the absolute timeout
    with pytest.raises(ConfigError, match="SESSION_ABSOLUTE_TIMEOUT_SECONDS"):
        load_settings(env)


def test_default_absolute_is_refused_when_idle_exceeds_it() -> None:
    # Given only the idle timeout raised above the default absolute lifetime (90 days)
    env = {"AUTH_SECRET": TEST_SECRET, "SESSION_IDLE_TIMEOUT_SECONDS": str(7_776_000 + 1)}

    # When the settings are loaded, Then the inconsistency is caught too
    with pytest.raises(ConfigError, match="SESSION_ABSOLUTE_TIMEOUT_SECONDS"):
        load_settings(env)


def test_absolute_timeout_equal_to_idle_is_accepted() -> None:
    # Given equal idle and absolute timeouts (no sliding at all)
    env = {
        "AUTH_SECRET": TEST_SECRET,
        "SESSION_IDLE_TIMEOUT_SECONDS": "3600",
        "SESSION_ABSOLUTE_TIMEOUT_SECONDS": "3600",
    }

    # When the settings are loaded, Then both hold
    settings = load_settings(env)
    assert settings.idle_timeout == settings.absolute_timeout == 3600


# --- cookie mode and CORS -------------------------------------------------------------------


def test_cookie_and_cors_settings_are_parsed() -> None:
    settings = load_settings(
        {
            "AUTH_SECRET": TEST_SECRET,
            "COOKIE_SAME_SITE": "lax",
            "ACCESS_TOKEN_COOKIE": "TRUE",
            "CORS_ALLOWED_ORIGINS": " https://app.example.com, http://localhost:5173,https://App.Example.com:443 ,",
        }
    )
    assert settings.cookie_same_site == "Lax"
    assert settings.access_token_cookie is True
    # As a browser sends them (lower-case host, no default port), once each, in order, blanks dropped
    assert settings.cors_allowed_origins == ("https://app.example.com", "http://localhost:5173")
    assert load_settings(
        {"AUTH_SECRET": TEST_SECRET, "CORS_ALLOWED_ORIGINS": "https://a.example:8443"}
    ).cors_allowed_origins == ("https://a.example:8443",)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("COOKIE_SAME_SITE", "None", "one of Strict, Lax"),
        ("ACCESS_TOKEN_COOKIE", "yes", "one of true, false"),
        ("CORS_ALLOWED_ORIGINS", "*", "not an origin"),
        ("CORS_ALLOWED_ORIGINS", "https://*.example.com", "not an origin"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com/", "not an origin"),
        ("CORS_ALLOWED_ORIGINS", "app.example.com", "not an origin"),
        ("CORS_ALLOWED_ORIGINS", "http://app.example.com", "must use https"),
        ("CORS_ALLOWED_ORIGINS", "http://localhost.evil.example", "must use https"),
        ("CORS_ALLOWED_ORIGINS", "https://a.example.com:99999", "port out of range"),
        ("CORS_ALLOWED_ORIGINS", "https://..", "not an origin"),
        ("CORS_ALLOWED_ORIGINS", "null", "not an origin"),
    ],
)
def test_bad_cookie_or_cors_values_are_refused_by_name(name: str, value: str, says: str) -> None:
    # SameSite=None would let every cross-site request carry the cookies; `*` cannot go with
    # credentials; an http page could be tampered with on the way
    with pytest.raises(ConfigError, match=f"{name}.*{says}"):
        load_settings({"AUTH_SECRET": TEST_SECRET, name: value})


@pytest.mark.parametrize(
    "value",
    [
        "",
        "https://app.example.com",
        "https://a.example.com, http://localhost:5173",
        "http://127.0.0.1:8080",
        "https://app.example.com/",
        "https://*.example.com",
        "*",
        "http://app.example.com",
        "app.example.com",
        "https://a.example.com;https://b.example.com",
    ],
)
def test_the_template_parameter_refuses_what_the_functions_refuse(value: str) -> None:
    # A value CloudFormation accepts but the functions refuse would fail every cold start
    # (the authorizer's too: a 500 on every route), so the deploy must refuse it instead
    from local.template import load_template, repo_root

    pattern = load_template(repo_root() / "template.yaml")["Parameters"]["CorsAllowedOrigins"]["AllowedPattern"]
    try:
        load_settings({"AUTH_SECRET": TEST_SECRET, "CORS_ALLOWED_ORIGINS": value})
        accepted = True
    except ConfigError:
        accepted = False
    assert (re.fullmatch(pattern, value) is not None) == accepted
