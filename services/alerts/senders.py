"""Sending one message to one channel: our signed JSON webhook, Slack-compatible webhooks, and
email or any other Apprise URL through Apprise."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import apprise
import httpx

from services.alerts.models import NotificationChannel
from services.core.egress import EgressPolicy, UnsafeTarget
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


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", as the receiver recomputes it."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


async def _post(
    policy: EgressPolicy, url: str, body: bytes, headers: dict[str, str], timeout_s: float
) -> int:
    try:
        response = await policy.post(url, content=body, headers=headers, timeout_s=timeout_s)
    except UnsafeTarget as exc:
        raise SendFailed(exc.message, transient=False) from exc
    except httpx.HTTPError as exc:
        # One message for refused, reset, timed out and TLS failures alike: the stored error
        # must not tell a seller whether something answered on a port.
        raise SendFailed("the receiver could not be reached", transient=True) from exc
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
    def __init__(self, settings: AlertSettings, policy: EgressPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or EgressPolicy(settings.allow_private_targets)

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
        try:
            # Checked again at send time: a channel stored under an older, looser rule
            # must not reach what today's policy refuses.
            self.policy.check_apprise(channel.target)
        except UnsafeTarget as exc:
            raise SendFailed(exc.message, transient=False) from exc
        await self._apprise(channel.target, message)
        return None

    async def _webhook(self, channel: NotificationChannel, message: Message) -> int:
        body = json.dumps(message.payload, separators=(",", ":"), default=str).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shelfwatch-Webhook/1",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(channel.signing_secret or "", timestamp, body),
            DELIVERY_HEADER: message.delivery_id,
        }
        return await _post(
            self.policy, channel.target, body, headers, self.settings.delivery_timeout_s
        )

    async def _slack(self, channel: NotificationChannel, message: Message) -> int:
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
        return await _post(
            self.policy, channel.target, body, headers, self.settings.delivery_timeout_s
        )

    async def _apprise(self, url: str, message: Message) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise SendFailed("the channel URL is not one Apprise understands", transient=False)
        # Our text is plain text: said so, Apprise keeps its lines in the text part of an email
        # and escapes it for the HTML part (otherwise it takes it for HTML, lines collapse and
        # a product title's markup would pass through).
        ok = await notifier.async_notify(
            body=message.text, title=message.title, body_format=apprise.NotifyFormat.TEXT
        )
        if not ok:
            raise SendFailed("Apprise could not deliver the notification", transient=True)
