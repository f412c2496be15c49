"""JWT authentication: short-lived HS256 access tokens, verified in constant time.

Tokens carry only the user id and expiry; roles are looked up per request so that
revocations take effect immediately.
"""
import base64
import hashlib
import hmac
import json
import time

ACCESS_TOKEN_TTL_SECONDS = 15 * 60


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(user_id: str, signing_key: bytes, now: float = None) -> str:
    now = time.time() if now is None else now
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = _b64(json.dumps({"sub": user_id, "exp": int(now) + ACCESS_TOKEN_TTL_SECONDS}).encode())
    signature = hmac.new(signing_key, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64(signature)}"


class InvalidToken(Exception):
    pass


def verify_token(token: str, signing_key: bytes, now: float = None) -> str:
    """Return the user id of a valid token, or raise InvalidToken."""
    now = time.time() if now is None else now
    try:
        header, claims, signature = token.split(".")
    except ValueError:
        raise InvalidToken("malformed token")
    expected = hmac.new(signing_key, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(signature)):
        raise InvalidToken("bad signature")
    if json.loads(_unb64(header)).get("alg") != "HS256":
        raise InvalidToken("unexpected algorithm")
    payload = json.loads(_unb64(claims))
    if payload["exp"] < now:
        raise InvalidToken("expired")
    return payload["sub"]
