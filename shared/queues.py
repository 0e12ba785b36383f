"""Queue naming: one arq queue per consuming service, under a configurable prefix."""


def queue_name(prefix: str, service: str) -> str:
    return f"{prefix}:events:{service}"


def job_id(service: str, event_id: object, sequence: int) -> str:
    """The arq job id of one event for one consumer.

    arq's job keys are global, not per queue, so the consumer is part of the id. arq orders a queue by
    enqueue time in milliseconds and then by job id, so the zero-padded outbox sequence keeps events
    enqueued in the same millisecond in commit order.
    """
    return f"{service}:{sequence:019d}:{event_id}"
