"""Events the formulation service consumes."""

from shared.consumer import EventHandler

HANDLERS: dict[str, EventHandler] = {}
