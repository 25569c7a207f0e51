"""Browser cookie mode: the cookie names, the mode header, and reading cookies from events.

Light on purpose (standard library only): the authorizer imports it. Writing Set-Cookie
headers is in sessiongate.http (Powertools' Cookie), which the authorizer never imports.

A request is in cookie mode when it carries `X-Session-Mode: cookie`. That header is also
the CSRF defence: a cross-site form or image cannot send a custom header, and a cross-site
`fetch` that sends one needs a CORS preflight, which only CORS_ALLOWED_ORIGINS pass. So a
cookie is read only from requests that carry the header, and a cookie alone authenticates
nothing (OWASP CSRF Cheat Sheet, "custom request headers"; SameSite is defence in depth).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACCESS_TOKEN_COOKIE = "sg_access"  # noqa: S105 - a cookie name, not a secret
REFRESH_TOKEN_COOKIE = "sg_refresh"  # noqa: S105 - a cookie name, not a secret
MODE_HEADER = "X-Session-Mode"
COOKIE_MODE = "cookie"


def header_values(headers: object, name: str) -> list[Any]:
    """Every value of the header `name`, matched case-insensitively; [] for no headers at all."""
    if not isinstance(headers, Mapping):
        return []
    wanted = name.lower()
    return [value for key, value in headers.items() if isinstance(key, str) and key.lower() == wanted]


def listed_values(multi_value_headers: object, name: str) -> list[Any]:
    """Every value of `name` in a REST event's multiValueHeaders (lists of strings)."""
    return [v for values in header_values(multi_value_headers, name) if isinstance(values, list) for v in values]


def cookie_value(cookies: list[Any], name: str) -> str:
    """The value of the cookie `name` among `a=b; c=d` strings; "" when absent, or sent twice with two values."""
    found = set()
    for item in cookies:
        for pair in item.split(";") if isinstance(item, str) else ():
            key, sep, value = pair.partition("=")
            if sep and key.strip() == name:
                found.add(value.strip())
    return found.pop() if len(found) == 1 else ""


def is_cookie_mode(headers: object, multi_value_headers: object = None) -> bool:
    """True when the request sends `X-Session-Mode: cookie` (name and value case-insensitive),
    and only that: a repeated header with another value, or not a string, is not cookie mode."""
    values = [*header_values(headers, MODE_HEADER), *listed_values(multi_value_headers, MODE_HEADER)]
    return bool(values) and all(isinstance(v, str) and v.strip().lower() == COOKIE_MODE for v in values)


def request_cookie(name: str, headers: object, multi_value_headers: object = None, cookies: object = None) -> str:
    """The cookie `name` of a request in cookie mode; "" otherwise (see the module docstring).

    HTTP/2 clients may send several Cookie headers: REST keeps them all in multiValueHeaders
    only, and HTTP API payload 2.0 moves them into `cookies`.
    """
    if not is_cookie_mode(headers, multi_value_headers):
        return ""
    jar = listed_values(multi_value_headers, "cookie") or header_values(headers, "cookie")
    return cookie_value([*(cookies if isinstance(cookies, list) else []), *jar], name)
