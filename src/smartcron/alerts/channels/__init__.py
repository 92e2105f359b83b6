"""Where messages go. One module per channel; each turns ``OutgoingMessage`` objects into
deliveries and reports, per message, success or a ``NotifierError`` that says whether trying again
can help (``permanent``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from smartcron.errors import NotifierError

if TYPE_CHECKING:
    from smartcron.config import Settings

EMAIL_CHANNEL_ID = "email"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    subject: str
    body: str
    recipients: tuple[str, ...] = ()
    """Email addresses; channels that have their own destination ignore them."""
    reference: str | None = None
    """Alert or notification id, for mail headers and logs."""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    error: NotifierError | None = None
    note: str | None = None
    """Something worth keeping about a delivery that succeeded (a refused address)."""

    @property
    def ok(self) -> bool:
        return self.error is None


class Channel(Protocol):
    @property
    def id(self) -> str:
        """Stable identifier stored in notification rows; never holds a secret."""
        ...

    @property
    def label(self) -> str:
        """For people: what and where, with credentials masked."""
        ...

    @property
    def addressed(self) -> bool:
        """True when messages need recipients (email); False when the channel is the address."""
        ...

    def deliver(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        """Send each message; one result per message, in order. Never raises for delivery
        problems: a channel that is down answers every message with a transient error."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelProblem:
    label: str
    problem: str


def build_channels(settings: Settings) -> tuple[list[Channel], list[ChannelProblem]]:
    """The channels the settings configure, and those that cannot work (a bad apprise URL)."""
    channels: list[Channel] = []
    problems: list[ChannelProblem] = []
    if settings.smtp_host:
        from smartcron.alerts.channels.email import EmailChannel

        channels.append(EmailChannel.from_settings(settings))
    if settings.alert_urls:
        from smartcron.alerts.channels.apprise_channel import AppriseChannel

        for position, url in enumerate(settings.alert_urls, start=1):
            try:
                channels.append(AppriseChannel(url))
            except NotifierError as exc:
                problems.append(ChannelProblem(f"alert URL #{position}", exc.message))
    return channels, problems
