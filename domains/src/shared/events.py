"""Domain events: every state change is published as an immutable event.

Handlers are registered per event type; publishing never raises because a handler
failed -- failures are collected so the caller can retry them from an outbox.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Dict, List
import uuid


@dataclass(frozen=True)
class Event:
    type: str
    payload: dict
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())


class EventBus:
    def __init__(self) -> None:
        self._handlers: Dict[str, List[Callable[[Event], None]]] = {}
        self.outbox: List[Event] = []

    def subscribe(self, event_type: str, handler: Callable[[Event], None]) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    def publish(self, event: Event) -> List[Exception]:
        failures = []
        for handler in self._handlers.get(event.type, []):
            try:
                handler(event)
            except Exception as error:  # a failing subscriber must not break the producer
                failures.append(error)
        if failures:
            self.outbox.append(event)
        return failures
