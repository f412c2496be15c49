"""Password reset by email: single-use, hashed, expiring tokens.

The token is mailed; only its SHA-256 is stored. The response never reveals whether
an account exists for the address.
"""
import hashlib
import secrets
import time

RESET_TTL_SECONDS = 30 * 60


def request_reset(tokens: dict, users: dict, email: str, send_mail, now: float = None) -> None:
    now = time.time() if now is None else now
    if email not in users:
        return  # same response as for a known address
    token = secrets.token_urlsafe(32)
    tokens[hashlib.sha256(token.encode()).hexdigest()] = (email, now + RESET_TTL_SECONDS)
    send_mail(email, f"Reset your password: https://shop.example/reset?token={token}")


def consume_reset(tokens: dict, token: str, now: float = None):
    """Return the email the token was issued for, at most once, or None."""
    now = time.time() if now is None else now
    entry = tokens.pop(hashlib.sha256(token.encode()).hexdigest(), None)
    if entry is None or entry[1] < now:
        return None
    return entry[0]
