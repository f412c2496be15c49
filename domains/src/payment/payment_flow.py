"""Payment flow: authorize at checkout, capture at shipment, refund partially or fully.

Every call to the provider carries an idempotency key derived from the order, so a
retried request never charges twice.
"""
from dataclasses import dataclass


class PaymentError(Exception):
    pass


@dataclass
class Payment:
    order_id: str
    amount_minor: int
    currency: str
    state: str = "new"  # new -> authorized -> captured -> (partially_)refunded
    refunded_minor: int = 0


def authorize(provider, payment: Payment) -> Payment:
    if payment.state != "new":
        raise PaymentError(f"cannot authorize a payment that is {payment.state}")
    provider.authorize(payment.order_id, payment.amount_minor, payment.currency,
                       idempotency_key=f"auth:{payment.order_id}")
    payment.state = "authorized"
    return payment


def capture(provider, payment: Payment) -> Payment:
    if payment.state != "authorized":
        raise PaymentError(f"cannot capture a payment that is {payment.state}")
    provider.capture(payment.order_id, idempotency_key=f"capture:{payment.order_id}")
    payment.state = "captured"
    return payment


def refund(provider, payment: Payment, amount_minor: int) -> Payment:
    if payment.state not in ("captured", "partially_refunded"):
        raise PaymentError(f"cannot refund a payment that is {payment.state}")
    if amount_minor <= 0 or payment.refunded_minor + amount_minor > payment.amount_minor:
        raise PaymentError("refund exceeds the captured amount")
    provider.refund(payment.order_id, amount_minor,
                    idempotency_key=f"refund:{payment.order_id}:{payment.refunded_minor + amount_minor}")
    payment.refunded_minor += amount_minor
    payment.state = "refunded" if payment.refunded_minor == payment.amount_minor else "partially_refunded"
    return payment
