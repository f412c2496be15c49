"""Client other services use to look users up (published by user-service)."""
from shared.http_client import call_with_retries


def get_user(transport, user_id: str) -> dict:
    # GET is idempotent: retry with the request path as the key.
    return call_with_retries(lambda: transport("GET", f"/users/{user_id}"), idempotency_key=f"user:{user_id}")
