"""Outbound target checks for channels; the rules themselves live in services.core.egress."""

from __future__ import annotations

from services.core.egress import EgressPolicy, UnsafeTarget, refused_address

__all__ = ["UnsafeTarget", "_refused", "check_url", "policy"]


def policy(allow_private: bool) -> EgressPolicy:
    return EgressPolicy(allow_private)


def _refused(address: str) -> bool:
    return refused_address(address)


async def check_url(url: str, allow_private: bool, field: str = "target") -> None:
    """Refuse URLs the egress policy would not connect to."""
    await EgressPolicy(allow_private).check_url(url, field)
