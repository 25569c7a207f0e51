"""Example route behind sessiongate's authorizer: the authorizer's context is the caller."""

import json


def lambda_handler(event: dict, context: object) -> dict:
    caller = event["requestContext"]["authorizer"]["lambda"]  # {userId, sessionId, role, email}
    body = {"hello": caller["email"], "role": caller["role"], "route": event["routeKey"]}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
