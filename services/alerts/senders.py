"""Sending one message to one channel: our signed JSON webhook, Slack-compatible webhooks, and
email or any other Apprise URL through Apprise."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import apprise
import httpx

from services.alerts.models import NotificationChannel
from services.alerts.outbound import check_host, check_url
from services.core.settings import AlertSettings

SIGNATURE_HEADER = "X-Shelfwatch-Signature"
TIMESTAMP_HEADER = "X-Shelfwatch-Timestamp"
DELIVERY_HEADER = "X-Shelfwatch-Delivery"


class SendFailed(Exception):
    """The channel did not take the message; ``transient`` says whether a retry may help."""

    def __init__(self, message: str, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


@dataclass(frozen=True, slots=True)
class Message:
    delivery_id: str
    kind: str  # event | digest | test
    title: str
    text: str
    payload: dict[str, Any]


def apprise_host(url: str) -> str | None:
    """The host an Apprise URL would contact, when it names one (self-hosted services do:
    ntfy://host, gotify://host, mmost://host …); hosted services resolve publicly anyway."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if host is None:
        return None
    # Hosted services put tokens where the host goes (discord://id/token); a real host has a
    # dot, or is an address literal or "localhost".
    if host.isdigit():
        # "2130706433" is how some resolvers spell 127.0.0.1; long ids are service tokens.
        number = int(host)
        return str(ipaddress.IPv4Address(number)) if number < 2**32 else None
    looks_like_host = "." in host or ":" in host or host == "localhost"
    return host if looks_like_host else None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", as the receiver recomputes it."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


async def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise SendFailed(f"{type(exc).__name__} while posting", transient=True) from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise SendFailed(f"receiver answered {response.status_code}", True, response.status_code)
    if response.status_code >= 300:
        raise SendFailed(f"receiver answered {response.status_code}", False, response.status_code)
    return response.status_code


def email_url(settings: AlertSettings, to: str) -> str:
    """An Apprise mailto:// URL for the operator's SMTP server."""
    auth = ""
    if settings.smtp_username:
        auth = quote(settings.smtp_username, safe="")
        password = settings.smtp_password.get_secret_value()
        auth += (":" + quote(password, safe="") if password else "") + "@"
    mode = "starttls" if settings.smtp_starttls else "insecure"
    return (
        f"mailto://{auth}{settings.smtp_host}:{settings.smtp_port}"
        f"?to={quote(to)}&from={quote(settings.smtp_from)}&mode={mode}"
    )


class Sender:
    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    async def send(self, channel: NotificationChannel, message: Message) -> int | None:
        """Deliver, returning the receiver's HTTP status where there is one."""
        if channel.kind == "webhook":
            return await self._webhook(channel, message)
        if channel.kind == "slack":
            return await self._slack(channel, message)
        if channel.kind == "email":
            if not self.settings.smtp_host:
                raise SendFailed(
                    "no SMTP server is configured (SHELFWATCH_ALERTS__SMTP_HOST)", False
                )
            # The operator's own SMTP server: trusted, not a seller-chosen address.
            await self._apprise(email_url(self.settings, channel.target), message)
            return None
        await check_host(apprise_host(channel.target), self.settings.allow_private_targets)
        await self._apprise(channel.target, message)
        return None

    async def _webhook(self, channel: NotificationChannel, message: Message) -> int:
        await check_url(channel.target, self.settings.allow_private_targets)
        body = json.dumps(message.payload, separators=(",", ":"), default=str).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shelfwatch-Webhook/1",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(channel.signing_secret or "", timestamp, body),
            DELIVERY_HEADER: message.delivery_id,
        }
        return await _post(channel.target, body, headers, self.settings.delivery_timeout_s)

    async def _slack(self, channel: NotificationChannel, message: Message) -> int:
        await check_url(channel.target, self.settings.allow_private_targets)
        body = json.dumps(
            {
                "text": f"*{message.title}*\n{message.text}",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:2900]}},
                ],
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        return await _post(channel.target, body, headers, self.settings.delivery_timeout_s)

    async def _apprise(self, url: str, message: Message) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise SendFailed("the channel URL is not one Apprise understands", transient=False)
        ok = await notifier.async_notify(body=message.text, title=message.title)
        if not ok:
            raise SendFailed("Apprise could not deliver the notification", transient=True)
