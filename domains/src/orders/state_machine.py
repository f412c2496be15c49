"""Order state machine: the only way an order changes state.

TRANSITIONS is the single source of truth; `scripts/check_state_machine.py` checks that
every state is reachable from `pending` and that terminal states have no exits.
"""

TRANSITIONS = {
    "pending": {"confirm": "confirmed", "cancel": "cancelled"},
    "confirmed": {"pay": "paid", "cancel": "cancelled"},
    "paid": {"ship": "shipped", "refund": "refunded"},
    "shipped": {"deliver": "delivered", "return": "returned"},
    "delivered": {"return": "returned"},
    "returned": {"refund": "refunded"},
    "cancelled": {},
    "refunded": {},
}
INITIAL = "pending"
TERMINAL = {"cancelled", "refunded"}


class InvalidTransition(Exception):
    pass


def apply(state: str, action: str) -> str:
    try:
        return TRANSITIONS[state][action]
    except KeyError:
        allowed = ", ".join(sorted(TRANSITIONS.get(state, {}))) or "none"
        raise InvalidTransition(f"cannot {action} an order that is {state} (allowed: {allowed})")
