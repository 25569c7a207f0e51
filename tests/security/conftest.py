"""Security tier: hostile input, secrets in logs, enumeration, races — on moto, like the integration tier.

The integration tier's fixtures (`tables`, `user`, `issued`, `settings`, `keys`,
`passwords`, `template`) are reused as they are. `moto_endpoint` (and `dynamodb_endpoint`,
which `tables` asks for) is this package's own:
a moto server on 127.0.0.1 that lives while tests/security runs, whatever ran before or
runs after. PynamoDB caches one connection per model class (its endpoint is read once),
so the cached connections are dropped when this tier starts and again when it ends,
and the previous AWS_ENDPOINT_URL_DYNAMODB is put back.

Hypothesis profiles live in support.py (applied per test, never loaded globally).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.moto_dynamodb import loopback_server
from tests.integration.conftest import (  # noqa: F401 - fixtures reused by this tier
    issued,
    keys,
    passwords,
    settings,
    tables,
    template,
    user,
)
from tests.security.support import PROFILE_NAME, TALLY

_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER")


def _drop_cached_connections() -> None:
    from sessiongate.models import EmailClaim, Session, User

    for model in (Session, User, EmailClaim):
        model._connection = None


@pytest.fixture(scope="package")
def moto_endpoint() -> Iterator[str]:
    with loopback_server() as endpoint:
        assert endpoint.startswith("http://127.0.0.1:")
        previous = {name: os.environ.get(name) for name in _ENDPOINT_VARIABLES}
        os.environ.update(dict.fromkeys(_ENDPOINT_VARIABLES, endpoint))
        _drop_cached_connections()
        try:
            yield endpoint
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            _drop_cached_connections()


@pytest.fixture(scope="package")
def dynamodb_endpoint(moto_endpoint: str) -> str:
    """The DynamoDB under test: always this tier's moto (the hostile inputs need its reset API)."""
    return moto_endpoint


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not (TALLY.tokens_tried or TALLY.examples or TALLY.races):
        return
    write = terminalreporter.write_line
    terminalreporter.section("sessiongate security figures")
    if TALLY.tokens_tried:
        undocumented = len(TALLY.tokens_undocumented)
        write(
            f"token corpus: {TALLY.tokens_tried} tokens tried through the authorizer, "
            f"{TALLY.tokens_documented} ended as documented, {undocumented} ended other than documented"
            + (f" ({', '.join(TALLY.tokens_undocumented)})" if undocumented else "")
        )
    for prop, count in sorted(TALLY.examples.items()):
        outcomes = ", ".join(f"{name} {n}" for name, n in sorted(TALLY.outcomes.get(prop, {}).items()))
        write(f"property {prop}: {count} examples run (profile {PROFILE_NAME}): {outcomes}")
    for race in TALLY.races:
        write(f"race: {race}")
