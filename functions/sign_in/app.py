"""POST /auth/sign-in: email and password in, a new session's token pair out."""

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from sessiongate import sessions
from sessiongate.config import load_settings
from sessiongate.http import SignInRequest, build_resolver, lambda_handler_for, token_response
from sessiongate.keys import KeyProvider
from sessiongate.passwords import Passwords

settings = load_settings()
keys = KeyProvider(settings)
passwords = Passwords()
app = build_resolver()


@app.post("/auth/sign-in")
def sign_in(request: Annotated[SignInRequest, Body()]) -> Response[str]:
    event = app.current_event
    issued = sessions.sign_in(
        settings,
        keys.current(),
        passwords,
        email=request.email,
        password=request.password,
        user_agent=event.headers.get("user-agent"),
        source_ip=event.request_context.identity.source_ip,
        now=int(time.time()),
    )
    return token_response(issued)


lambda_handler = lambda_handler_for(app)
