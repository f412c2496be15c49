"""Example: an end-to-end guest checkout, as the checkout tests write it."""
from inventory.reservations import Inventory
from orders import saga
from payment.payment_flow import Payment


def test_guest_checkout(provider, clock):
    stock = Inventory({"SKU-1": 3}, clock=clock)
    payment = Payment(order_id="o-42", amount_minor=2_500, currency="EUR")
    actions = {
        "reserve_stock": lambda ctx: stock.reserve("o-42", "SKU-1", 1),
        "release_stock": lambda ctx: stock.release("o-42"),
        "authorize_payment": lambda ctx: provider.authorize("o-42", 2_500, "EUR", idempotency_key="auth:o-42"),
        "void_payment": lambda ctx: provider.void("o-42"),
        "create_order": lambda ctx: ctx.setdefault("order", {"id": "o-42", "state": "confirmed"}),
        "cancel_order": lambda ctx: ctx.pop("order", None),
        "request_shipment": lambda ctx: None,
        "cancel_shipment": lambda ctx: None,
    }
    context = {}
    assert saga.run_saga(actions, context)
    assert context["order"]["state"] == "confirmed"
    assert stock.available("SKU-1") == 2
    assert payment.state == "new"
