"""The one place that owns logging, metrics and tracing (Powertools)."""

from __future__ import annotations

import os
import warnings
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "sessiongate")

# Many requests record no metric (a 400, an allowed token): an empty flush is normal here.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "SessionGate"), service=SERVICE)


@cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def __getattr__(name: str) -> Tracer:
    # Tracer imports the X-Ray SDK (~200 ms): built on first use, so the authorizer,
    # which does not trace, never pays for it at cold start.
    if name == "tracer":
        return _tracer()
    raise AttributeError(name)
