"""sessiongate.keys: HKDF, key-set parsing, subkeys and the KeyProvider (AUTH_SECRET or Secrets Manager)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from sessiongate.config import MIN_SECRET_BYTES, load_settings
from sessiongate.errors import ConfigError, ServiceUnavailable
from sessiongate.keys import KeyProvider, KeySet, SigningKey, hkdf_sha256, parse_key_set
from tests.conftest import TEST_SECRET

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sessiongate-signing-AbCdEf"
SECRET_A = "a" * 40 + "-first-signing-key"
SECRET_B = "b" * 40 + "-second-signing-key"
SECRET_C = "c" * 40 + "-third-signing-key"


# --- HKDF -------------------------------------------------------------------------------


def test_hkdf_matches_rfc_5869_test_case_3() -> None:
    # Given RFC 5869 A.3: IKM = 0x0b * 22, salt and info empty, L = 42
    ikm = b"\x0b" * 22
    expected = bytes.fromhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")

    # When the key is derived
    okm = hkdf_sha256(ikm, b"", 42)

    # Then it is the RFC's OKM
    assert okm == expected


def test_hkdf_length_and_info_matter() -> None:
    # Given one input key
    ikm = TEST_SECRET.encode()

    # When keys are derived with different lengths and infos
    short, long_ = hkdf_sha256(ikm, b"x", 16), hkdf_sha256(ikm, b"x", 32)

    # Then the output has the asked length, is a prefix-consistent expansion, and depends on info
    assert len(short) == 16 and len(long_) == 32
    assert long_.startswith(short)
    assert hkdf_sha256(ikm, b"x") == long_
    assert hkdf_sha256(ikm, b"y") != long_


# --- parse_key_set ------------------------------------------------------------------------


def test_single_key_as_generated_by_the_template() -> None:
    # Given the {"kid", "secret"} shape GenerateSecretString makes
    value = {"kid": "k1", "secret": SECRET_A}

    # When it is parsed
    keys = parse_key_set(value)

    # Then it is one key, which signs, holding the UTF-8 bytes of the secret
    assert [k.kid for k in keys.keys] == ["k1"]
    assert keys.signing.kid == "k1"
    assert keys.signing.secret == SECRET_A.encode()
    assert keys.by_kid("k1") is keys.signing


def test_key_set_first_signs_all_verify() -> None:
    # Given a rotation key set: the new key first, the old ones after
    value = {
        "keys": [
            {"kid": "new", "secret": SECRET_A},
            {"kid": "old", "secret": SECRET_B},
            {"kid": "older", "secret": SECRET_C},
        ]
    }

    # When it is parsed
    keys = parse_key_set(value)

    # Then the first key signs and every key is found by its kid
    assert keys.signing.kid == "new"
    assert keys.by_kid("new").secret == SECRET_A.encode()
    assert keys.by_kid("old").secret == SECRET_B.encode()
    assert keys.by_kid("older").secret == SECRET_C.encode()


@pytest.mark.parametrize("kid", ["unknown", "", "NEW", "new ", None, 1, ["new"], {"kid": "new"}])
def test_by_kid_finds_nothing_for_other_values(kid: object) -> None:
    # Given a key set
    keys = parse_key_set({"keys": [{"kid": "new", "secret": SECRET_A}]})

    # When a kid that is not exactly one of its kids is looked up, Then nothing is found
    assert keys.by_kid(kid) is None


def test_by_kid_with_a_non_ascii_kid_finds_nothing() -> None:
    # Given a key set
    keys = parse_key_set({"kid": "k1", "secret": SECRET_A})

    # When a non-ASCII kid (from an attacker's JWT header) is looked up, Then nothing is found
    assert keys.by_kid("kä") is None


@pytest.mark.parametrize("secret", ["x" * (MIN_SECRET_BYTES - 1), "", "é" * 15 + "x"])
def test_short_secret_is_refused(secret: str) -> None:
    # Given a key whose secret is shorter than 32 bytes
    # When it is parsed, Then it is refused
    with pytest.raises(ConfigError):
        parse_key_set({"kid": "k1", "secret": secret})


def test_short_secret_in_a_key_set_is_refused() -> None:
    # Given a key set where only the second key is short
    value = {"keys": [{"kid": "new", "secret": SECRET_A}, {"kid": "old", "secret": "too-short"}]}

    # When it is parsed, Then the whole set is refused and the message does not leak the secret
    with pytest.raises(ConfigError) as caught:
        parse_key_set(value)
    assert "too-short" not in str(caught.value)


@pytest.mark.parametrize("secret", [None, 12345678901234567890123456789012345, ["x" * 40], {"v": "x" * 40}, True])
def test_non_string_secret_is_refused(secret: object) -> None:
    # Given a key whose secret is not a string
    # When it is parsed, Then it is refused
    with pytest.raises(ConfigError):
        parse_key_set({"kid": "k1", "secret": secret})


def test_missing_secret_is_refused() -> None:
    # Given a key without a secret
    # When it is parsed, Then it is refused
    with pytest.raises(ConfigError):
        parse_key_set({"kid": "k1"})


@pytest.mark.parametrize("kid", ["", "../x", "a/b", "a b", "\nk", "kä", "x" * 65, None, 1, ["k1"], True])
def test_bad_kid_is_refused(kid: object) -> None:
    # Given a key whose kid is empty, not a string, too long or not a safe token
    # When it is parsed, Then it is refused
    with pytest.raises(ConfigError):
        parse_key_set({"kid": kid, "secret": SECRET_A})


def test_kid_with_a_trailing_newline_is_refused() -> None:
    # Given a kid that ends in a newline (a copy-paste accident in the secret's JSON)
    # When it is parsed, Then it is refused like any other character outside A-Z a-z 0-9 _ -
    with pytest.raises(ConfigError):
        parse_key_set({"kid": "k1\n", "secret": SECRET_A})


def test_missing_kid_is_refused() -> None:
    # Given a key without a kid
    # When it is parsed, Then it is refused
    with pytest.raises(ConfigError):
        parse_key_set({"secret": SECRET_A})


@pytest.mark.parametrize("kid", ["k", "K-1_a", "x" * 64, "2026-01-rotation"])
def test_safe_kids_are_accepted(kid: str) -> None:
    # Given a kid of 1-64 safe characters
    # When it is parsed, Then it is kept as is
    assert parse_key_set({"kid": kid, "secret": SECRET_A}).signing.kid == kid


def test_duplicate_kids_are_refused() -> None:
    # Given two keys with the same kid (which one would verify?)
    value = {"keys": [{"kid": "same", "secret": SECRET_A}, {"kid": "same", "secret": SECRET_B}]}

    # When it is parsed, Then it is refused
    with pytest.raises(ConfigError):
        parse_key_set(value)


@pytest.mark.parametrize(
    "value",
    [
        {"keys": []},
        {"keys": {"kid": "k1", "secret": SECRET_A}},
        {"keys": "k1"},
        {"keys": None},
        {"keys": ["k1"]},
        {"keys": [{"kid": "k1", "secret": SECRET_A}, "k2"]},
        "k1",
        None,
        42,
        [],
        [{"kid": "k1", "secret": SECRET_A}],
        {},
    ],
)
def test_malformed_values_are_refused(value: Any) -> None:
    # Given something that is neither {kid, secret} nor {keys: [...]}
    # When it is parsed, Then it is refused with a ConfigError (never a TypeError or AttributeError)
    with pytest.raises(ConfigError):
        parse_key_set(value)


# --- subkeys ------------------------------------------------------------------------------


def test_subkeys_differ_per_label_and_from_the_secret() -> None:
    # Given one signing key
    key = SigningKey("k1", SECRET_A.encode())

    # When subkeys are derived for two labels
    tag, successor = key.subkey("refresh-tag/v1"), key.subkey("refresh-successor/v1")

    # Then each is 32 bytes, stable, different from the other and from the secret
    assert len(tag) == len(successor) == 32
    assert key.subkey("refresh-tag/v1") == tag
    assert tag != successor
    assert tag != key.secret and successor != key.secret
    assert tag not in key.secret and key.secret[:32] != tag


def test_subkeys_differ_per_secret() -> None:
    # Given two keys with different secrets
    # When the same label is derived from each, Then the subkeys differ
    assert SigningKey("a", SECRET_A.encode()).subkey("x") != SigningKey("b", SECRET_B.encode()).subkey("x")


def test_signing_key_repr_hides_the_secret() -> None:
    # Given a signing key
    key = SigningKey("k1", SECRET_A.encode())

    # When it is logged or shown in a traceback, Then the secret does not appear
    assert SECRET_A not in repr(key)
    assert SECRET_A not in repr(KeySet((key,)))


# --- KeyProvider ---------------------------------------------------------------------------


class FakeSecretsManager:
    """In-memory stand-in for Powertools' parameters.get_secret."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.error: Exception | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_secret(self, name: str, **kwargs: Any) -> Any:
        self.calls.append((name, kwargs))
        if self.error is not None:
            raise self.error
        return self.values[name]


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> FakeSecretsManager:
    fake = FakeSecretsManager()
    monkeypatch.setattr(parameters, "get_secret", fake.get_secret)
    return fake


@pytest.fixture
def arn_provider(secrets_manager: FakeSecretsManager) -> KeyProvider:
    return KeyProvider(load_settings({"AUTH_SECRET_ARN": ARN}))


def test_auth_secret_gives_a_fixed_key_set(secrets_manager: FakeSecretsManager) -> None:
    # Given a function configured with AUTH_SECRET
    provider = KeyProvider(load_settings({"AUTH_SECRET": TEST_SECRET}))

    # When the key set is asked for twice
    first, second = provider.current(), provider.current()

    # Then it is the same single key, the secret's bytes, and Secrets Manager is never called
    assert first is second
    assert len(first.keys) == 1
    assert first.signing.secret == TEST_SECRET.encode()
    assert first.by_kid(first.signing.kid) is first.signing
    assert secrets_manager.calls == []


def test_secret_arn_is_read_through_powertools_with_caching(
    secrets_manager: FakeSecretsManager, arn_provider: KeyProvider
) -> None:
    # Given the secret the template generates
    secrets_manager.values[ARN] = json.dumps({"kid": "gen1", "secret": SECRET_A})

    # When the key set is asked for
    keys = arn_provider.current()

    # Then it is read by ARN, with a cache age, and parsed
    assert [name for name, _ in secrets_manager.calls] == [ARN]
    assert secrets_manager.calls[0][1].get("max_age", 0) > 0
    assert keys.signing.kid == "gen1"
    assert keys.signing.secret == SECRET_A.encode()


def test_same_secret_value_reuses_the_key_set(secrets_manager: FakeSecretsManager, arn_provider: KeyProvider) -> None:
    # Given an unchanged secret
    secrets_manager.values[ARN] = json.dumps({"kid": "gen1", "secret": SECRET_A})

    # When the key set is asked for twice
    first, second = arn_provider.current(), arn_provider.current()

    # Then the parsed key set is reused
    assert first is second


def test_rotated_secret_value_yields_a_new_key_set(
    secrets_manager: FakeSecretsManager, arn_provider: KeyProvider
) -> None:
    # Given a first key in use
    secrets_manager.values[ARN] = json.dumps({"kid": "gen1", "secret": SECRET_A})
    before = arn_provider.current()

    # When the secret is rotated to a key set with a new first key
    secrets_manager.values[ARN] = json.dumps(
        {"keys": [{"kid": "gen2", "secret": SECRET_B}, {"kid": "gen1", "secret": SECRET_A}]}
    )
    after = arn_provider.current()

    # Then the new key signs, the old one still verifies, and the old set is unchanged
    assert after is not before
    assert after.signing.kid == "gen2"
    assert after.by_kid("gen1").secret == SECRET_A.encode()
    assert before.signing.kid == "gen1" and before.by_kid("gen2") is None


def test_secret_binary_is_accepted(secrets_manager: FakeSecretsManager, arn_provider: KeyProvider) -> None:
    # Given a secret stored as bytes (SecretBinary)
    secrets_manager.values[ARN] = json.dumps({"kid": "bin", "secret": SECRET_A}).encode()

    # When the key set is asked for, Then it is parsed the same way
    assert arn_provider.current().signing.kid == "bin"


def test_secrets_manager_failure_is_service_unavailable(
    secrets_manager: FakeSecretsManager, arn_provider: KeyProvider
) -> None:
    # Given Secrets Manager failing
    secrets_manager.error = GetParameterError("AccessDeniedException")

    # When the key set is asked for, Then it is a retryable ServiceUnavailable that keeps the cause
    with pytest.raises(ServiceUnavailable) as caught:
        arn_provider.current()
    assert isinstance(caught.value.__cause__, GetParameterError)


def test_provider_recovers_after_an_outage(secrets_manager: FakeSecretsManager, arn_provider: KeyProvider) -> None:
    # Given an outage on the first call
    secrets_manager.error = GetParameterError("throttled")
    with pytest.raises(ServiceUnavailable):
        arn_provider.current()

    # When Secrets Manager answers again
    secrets_manager.error = None
    secrets_manager.values[ARN] = json.dumps({"kid": "gen1", "secret": SECRET_A})

    # Then the key set is read
    assert arn_provider.current().signing.kid == "gen1"


@pytest.mark.parametrize("raw", ["not json", "{", json.dumps({"kid": "k1", "secret": "short"}), json.dumps([1, 2])])
def test_unusable_secret_value_is_a_config_error(
    secrets_manager: FakeSecretsManager, arn_provider: KeyProvider, raw: str
) -> None:
    # Given a secret that is not JSON or not a valid key set
    secrets_manager.values[ARN] = raw

    # When the key set is asked for, Then it is a ConfigError (an operator mistake, not an outage)
    with pytest.raises(ConfigError):
        arn_provider.current()
