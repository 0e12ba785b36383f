"""Queue naming: one arq queue per consuming service, under a configurable prefix."""


def queue_name(prefix: str, service: str) -> str:
    return f"{prefix}:events:{service}"


def job_id(service: str, event_id: object) -> str:
    # arq's job keys are global, not per queue, so the consumer is part of the id.
    return f"{service}:{event_id}"
