"""Where payment meets inventory: stock is reserved before money moves, committed only
once the payment is captured, and released when the payment fails."""
import unittest

from inventory.reservations import Inventory, OutOfStock
from payment.payment_flow import Payment, PaymentError, authorize, capture


class DecliningProvider:
    def authorize(self, *args, idempotency_key):
        raise PaymentError("card declined")


class AcceptingProvider:
    def authorize(self, *args, idempotency_key):
        pass

    capture = authorize


def checkout(inventory, provider, order_id, sku, quantity, amount_minor):
    inventory.reserve(order_id, sku, quantity)
    payment = Payment(order_id, amount_minor, "EUR")
    try:
        capture(provider, authorize(provider, payment))
    except PaymentError:
        inventory.release(order_id)
        raise
    inventory.commit(order_id)
    return payment


class ReserveAndPayTest(unittest.TestCase):
    def test_captured_payment_commits_the_reservation(self):
        inventory = Inventory({"mug": 2})
        checkout(inventory, AcceptingProvider(), "o1", "mug", 2, 1800)
        self.assertEqual(inventory.on_hand["mug"], 0)
        self.assertEqual(inventory.available("mug"), 0)

    def test_declined_payment_releases_the_reservation(self):
        inventory = Inventory({"mug": 1})
        with self.assertRaises(PaymentError):
            checkout(inventory, DecliningProvider(), "o2", "mug", 1, 900)
        self.assertEqual(inventory.available("mug"), 1)

    def test_no_payment_without_stock(self):
        inventory = Inventory({"mug": 0})
        with self.assertRaises(OutOfStock):
            checkout(inventory, AcceptingProvider(), "o3", "mug", 1, 900)


if __name__ == "__main__":
    unittest.main()
