"""Checkout saga: each step has a compensation, run in reverse when a later step fails.

STEPS is checked by `scripts/check_saga.py`: every step must name a compensation.
"""

STEPS = [
    ("reserve_stock", "release_stock"),
    ("authorize_payment", "void_payment"),
    ("create_order", "cancel_order"),
    ("request_shipment", "cancel_shipment"),
]


def run_saga(actions: dict, context: dict) -> bool:
    """Run the steps in order; on failure compensate the completed ones in reverse."""
    done = []
    for step, compensation in STEPS:
        try:
            actions[step](context)
        except Exception:
            for _, undo in reversed(done):
                actions[undo](context)
            return False
        done.append((step, compensation))
    return True
