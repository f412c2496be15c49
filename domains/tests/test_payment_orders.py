import unittest

from orders import saga, state_machine
from payment.idempotency import IdempotencyConflict, IdempotencyStore
from payment.payment_flow import Payment, PaymentError, authorize, capture, refund
from shipping.rates import Quote, choose


class FakeProvider:
    def __init__(self):
        self.calls = []

    def authorize(self, *args, idempotency_key):
        self.calls.append(idempotency_key)

    capture = refund = authorize


class PaymentTest(unittest.TestCase):
    def test_flow_and_refund_limits(self):
        provider = FakeProvider()
        payment = capture(provider, authorize(provider, Payment("o1", 1000, "EUR")))
        refund(provider, payment, 400)
        self.assertEqual(payment.state, "partially_refunded")
        with self.assertRaises(PaymentError):
            refund(provider, payment, 700)
        self.assertEqual(len(set(provider.calls)), len(provider.calls))

    def test_idempotent_replay_and_conflict(self):
        store, calls = IdempotencyStore(), []
        handler = lambda request: calls.append(request) or {"ok": True}
        store.handle("k", {"amount": 1}, handler)
        store.handle("k", {"amount": 1}, handler)
        self.assertEqual(len(calls), 1)
        with self.assertRaises(IdempotencyConflict):
            store.handle("k", {"amount": 2}, handler)


class OrderTest(unittest.TestCase):
    def test_transitions(self):
        self.assertEqual(state_machine.apply("pending", "confirm"), "confirmed")
        with self.assertRaises(state_machine.InvalidTransition):
            state_machine.apply("cancelled", "ship")

    def test_saga_compensates_in_reverse(self):
        log = []
        actions = {name: (lambda n: lambda ctx: log.append(n))(name) for step in saga.STEPS for name in step}

        def fail(ctx):
            raise RuntimeError("payment declined")

        actions["create_order"] = fail
        self.assertFalse(saga.run_saga(actions, {}))
        self.assertEqual(log, ["reserve_stock", "authorize_payment", "void_payment", "release_stock"])


class ShippingTest(unittest.TestCase):
    def test_cheapest_within_window(self):
        quotes = [Quote("slow", 300, 7), Quote("fast", 900, 1), Quote("mid", 500, 3)]
        self.assertEqual(choose(quotes, max_days=3).carrier, "mid")
        self.assertIsNone(choose(quotes, max_days=0))


if __name__ == "__main__":
    unittest.main()
