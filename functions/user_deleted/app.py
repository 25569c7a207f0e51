"""DynamoDB Streams consumer on the users table: a user deleted anywhere loses every session.

The admin CLI already deletes sessions synchronously; this catches deletions made by any
other path (console, scripts, TTL). Failed records are reported one by one (partial batch
response), retried by Lambda, and sent to the dead-letter queue after the last retry.
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from sessiongate import sessions
from sessiongate.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def revoke_sessions_of_removed_user(record: DynamoDBRecord) -> None:
    user_id = sessions.user_id_of_removed_item(
        removed=record.event_name == DynamoDBRecordEventName.REMOVE,
        key=(record.dynamodb.keys if record.dynamodb else {}).get("id"),
    )
    if user_id is not None:
        revoked = sessions.revoke_all_sessions(user_id)
        metrics.add_metric(name="CascadeSessionsRevoked", unit="Count", value=revoked)
        logger.info("user deleted: sessions revoked", user_id=user_id, sessions_revoked=revoked)


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=revoke_sessions_of_removed_user, processor=processor, context=context
    )
