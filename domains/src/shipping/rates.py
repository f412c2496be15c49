"""Shipping rates: cheapest carrier that meets the promised delivery window."""
from dataclasses import dataclass
from typing import List, Optional


@dataclass(frozen=True)
class Quote:
    carrier: str
    price_minor: int
    days: int


def choose(quotes: List[Quote], max_days: int) -> Optional[Quote]:
    eligible = [quote for quote in quotes if quote.days <= max_days]
    return min(eligible, key=lambda quote: (quote.price_minor, quote.days, quote.carrier), default=None)
