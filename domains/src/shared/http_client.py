"""Calls between services: timeouts always, retries only for idempotent requests.

Backoff is exponential with full jitter, capped; a request without an idempotency key
is never retried after it may have reached the server.
"""
import random
import time
from typing import Callable, Optional


class TransientError(Exception):
    """The call failed in a way that is safe to retry (timeout, 503, connection reset)."""


def backoff_delays(attempts: int, base: float = 0.1, cap: float = 2.0, rng: Optional[random.Random] = None):
    rng = rng or random.Random()
    for attempt in range(attempts):
        yield rng.uniform(0, min(cap, base * (2 ** attempt)))


def call_with_retries(call: Callable[[], dict], idempotency_key: Optional[str], attempts: int = 4,
                      sleep: Callable[[float], None] = time.sleep) -> dict:
    if idempotency_key is None:
        return call()
    last_error: Optional[Exception] = None
    for delay in backoff_delays(attempts):
        try:
            return call()
        except TransientError as error:
            last_error = error
            sleep(delay)
    raise RuntimeError(f"gave up after {attempts} attempts") from last_error
