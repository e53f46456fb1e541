"""The product side's keys in the read cache (``services.core.read_cache``)."""

from __future__ import annotations


def state_key(product_id: int) -> str:
    return f"cache:product-state:{product_id}"


def list_version_key(user_id: object) -> str:
    return f"cache:list-version:{user_id}"
