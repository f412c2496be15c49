"""Prices are integers in minor units (cents) with an ISO currency; never floats."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str

    def __add__(self, other: "Money") -> "Money":
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def times(self, quantity: int) -> "Money":
        return Money(self.amount_minor * quantity, self.currency)


def line_total(unit_price: Money, quantity: int, discount_percent: int = 0) -> Money:
    gross = unit_price.times(quantity).amount_minor
    # Round half up on the discount, in minor units.
    discount = (gross * discount_percent + 50) // 100
    return Money(gross - discount, unit_price.currency)
