"""The process's OpenAI client, built from settings (one per process, closed on shutdown)."""

from __future__ import annotations

from openai import AsyncOpenAI

from services.core.settings import ModelPrice, OpenAISettings


class OpenAIConnector:
    """Holds one ``AsyncOpenAI``; any OpenAI-compatible server works through ``base_url``."""

    def __init__(self, settings: OpenAISettings) -> None:
        self.settings = settings
        self._client: AsyncOpenAI | None = None

    @property
    def enabled(self) -> bool:
        """False without an API key: callers then use their deterministic fallback."""
        return self.settings.enabled

    @property
    def model(self) -> str:
        return self.settings.model

    def client(self) -> AsyncOpenAI:
        if self._client is None:
            self._client = AsyncOpenAI(
                api_key=self.settings.api_key.get_secret_value(),
                base_url=self.settings.base_url or None,
                timeout=self.settings.timeout_s,
                # The library retries 429, 5xx, connection errors and timeouts with exponential
                # backoff and jitter, and waits what a Retry-After header asks (up to 60 s).
                max_retries=self.settings.max_retries,
            )
        return self._client

    def price(self, model: str) -> ModelPrice | None:
        """The model's price, or that of the longest configured prefix (dated snapshots)."""
        prices = self.settings.prices
        if model in prices:
            return prices[model]
        prefixes = [name for name in prices if model.startswith(name)]
        return prices[max(prefixes, key=len)] if prefixes else None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
