"""Stock reservations: reserve at checkout, commit on payment, release on expiry.

Available = on_hand - reserved; a reservation never drives availability below zero.
"""
import time


class OutOfStock(Exception):
    pass


class Inventory:
    def __init__(self, on_hand: dict, clock=time.time, hold_seconds: int = 15 * 60):
        self.on_hand = dict(on_hand)
        self.reservations = {}  # reservation id -> (sku, quantity, expires_at)
        self._clock = clock
        self._hold = hold_seconds

    def available(self, sku: str) -> int:
        self.release_expired()
        reserved = sum(q for s, q, _ in self.reservations.values() if s == sku)
        return self.on_hand.get(sku, 0) - reserved

    def reserve(self, reservation_id: str, sku: str, quantity: int) -> None:
        if reservation_id in self.reservations:
            return  # idempotent: the same checkout retried
        if quantity <= 0 or self.available(sku) < quantity:
            raise OutOfStock(sku)
        self.reservations[reservation_id] = (sku, quantity, self._clock() + self._hold)

    def commit(self, reservation_id: str) -> None:
        sku, quantity, _ = self.reservations.pop(reservation_id)
        self.on_hand[sku] -= quantity

    def release(self, reservation_id: str) -> None:
        self.reservations.pop(reservation_id, None)

    def release_expired(self) -> None:
        now = self._clock()
        for reservation_id in [r for r, (_, _, expires) in self.reservations.items() if expires < now]:
            del self.reservations[reservation_id]
