"""Secrets Manager rotation function for the signing key set (scheduled by the template)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from sessiongate import rotation
from sessiongate.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> None:
    logger.info("rotation step", step=event["Step"], secret_id=event["SecretId"])
    rotation.run_step(secret_id=event["SecretId"], token=event["ClientRequestToken"], step=event["Step"])
