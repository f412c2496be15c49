import unittest

from catalog.pricing import Money, line_total
from catalog.search import search
from inventory.reservations import Inventory, OutOfStock
from inventory.sync import apply_feed

PRODUCTS = [
    {"sku": "A", "name": "Red running shoe", "popularity": 5},
    {"sku": "B", "name": "Blue running shoe", "popularity": 9},
    {"sku": "C", "name": "Red hat", "popularity": 1},
]


class SearchTest(unittest.TestCase):
    def test_ranks_by_terms_then_popularity_and_pages_by_cursor(self):
        page, cursor = search(PRODUCTS, "red shoe", limit=1)
        self.assertEqual([p["sku"] for p in page], ["A"])
        page, cursor = search(PRODUCTS, "red shoe", limit=1, cursor=cursor)
        self.assertEqual([p["sku"] for p in page], ["B"])


class PricingTest(unittest.TestCase):
    def test_minor_units_and_currency_safety(self):
        self.assertEqual(line_total(Money(999, "EUR"), 3, discount_percent=10), Money(2697, "EUR"))
        with self.assertRaises(ValueError):
            Money(1, "EUR") + Money(1, "USD")


class InventoryTest(unittest.TestCase):
    def test_reservations_never_oversell_and_expire(self):
        now = [0.0]
        stock = Inventory({"A": 2}, clock=lambda: now[0], hold_seconds=60)
        stock.reserve("r1", "A", 2)
        stock.reserve("r1", "A", 2)  # retried: idempotent
        with self.assertRaises(OutOfStock):
            stock.reserve("r2", "A", 1)
        now[0] = 61
        self.assertEqual(stock.available("A"), 2)

    def test_feed_is_replay_safe(self):
        on_hand, applied = {}, {}
        feed = [{"sku": "A", "quantity": 5, "sequence": 2}, {"sku": "A", "quantity": 9, "sequence": 1}]
        self.assertEqual(apply_feed(on_hand, applied, feed), 2)
        self.assertEqual(apply_feed(on_hand, applied, feed), 0)
        self.assertEqual(on_hand, {"A": 5})


if __name__ == "__main__":
    unittest.main()
