"""Actor adapters: one per supported Apify actor, chosen by the actor id in settings."""

from __future__ import annotations

from services.product.apify.adapters.axesso import AxessoAdapter
from services.product.apify.adapters.base import ActorAdapter
from services.product.apify.adapters.junglee import JungleeAdapter

_ADAPTERS: dict[str, ActorAdapter] = {
    adapter.actor_id: adapter for adapter in (AxessoAdapter(), JungleeAdapter())
}
ACTOR_IDS: tuple[str, ...] = tuple(_ADAPTERS)


def adapter_for(actor_id: str) -> ActorAdapter:
    """The adapter of an actor id; ValueError for an actor Shelfwatch cannot read."""
    try:
        return _ADAPTERS[actor_id]
    except KeyError:
        raise ValueError(
            f"Unsupported Apify actor {actor_id!r}; supported: {', '.join(ACTOR_IDS)}"
        ) from None


__all__ = ["ACTOR_IDS", "ActorAdapter", "AxessoAdapter", "JungleeAdapter", "adapter_for"]
