"""Scheduled: delete expired sessions through the expiry index, within the Lambda's time."""

import time

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sessiongate import sessions
from sessiongate.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict:
    started = time.monotonic()
    report = sessions.sweep(now=int(time.time()), time_left_ms=context.get_remaining_time_in_millis)
    duration_ms = int((time.monotonic() - started) * 1000)
    metrics.add_metric(name="SessionsSwept", unit="Count", value=report.deleted)
    metrics.add_metric(name="SweepDurationMs", unit="Milliseconds", value=duration_ms)
    summary = {**report.__dict__, "durationMs": duration_ms}
    logger.info("sweep finished", **summary)
    return summary
