"""Actor adapters: one per supported Apify actor, chosen by the actor id in settings."""

from __future__ import annotations

from services.product.apify.adapters.axesso import AxessoAdapter
from services.product.apify.adapters.base import ActorAdapter
from services.product.apify.adapters.junglee import JungleeAdapter

_ADAPTERS: dict[str, ActorAdapter] = {
    AxessoAdapter.actor_id: AxessoAdapter(),
    JungleeAdapter.actor_id: JungleeAdapter(),
}
ACTOR_IDS = tuple(_ADAPTERS)


def adapter_for(actor_id: str) -> ActorAdapter:
    try:
        return _ADAPTERS[actor_id]
    except KeyError:
        raise ValueError(
            f"unsupported actor {actor_id!r}; use one of {', '.join(ACTOR_IDS)}"
        ) from None


__all__ = ["ACTOR_IDS", "ActorAdapter", "AxessoAdapter", "JungleeAdapter", "adapter_for"]
