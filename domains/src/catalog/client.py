"""Client other services use to read products (published by product-service)."""
from shared.http_client import call_with_retries


def get_product(transport, sku: str) -> dict:
    return call_with_retries(lambda: transport("GET", f"/products/{sku}"), idempotency_key=f"product:{sku}")
