"""C07: `expires` is an integer Number of epoch seconds, and TTL is enabled on it."""

from __future__ import annotations

import time

from functions.sign_in import app as sign_in
from tests.helpers import FakeContext, proxy_event, response_json
from tests.integration.conftest import DEMO_PASSWORD, raw_session


def test_expires_is_integer_epoch_seconds_and_ttl_is_enabled(user, tables, settings):
    body = {"email": "ada@example.com", "password": DEMO_PASSWORD}
    issued = response_json(sign_in.lambda_handler(proxy_event("sign_in", body=body), FakeContext()))
    expires = raw_session(tables, issued["session"]["id"])["expires"]
    assert list(expires) == ["N"]
    assert expires["N"].isdigit()
    value = int(expires["N"])
    assert value < 10**10
    assert abs(value - (time.time() + settings.idle_timeout)) <= 5
    for table in (tables.sessions, tables.users):
        ttl = tables.client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
