"""Any apprise URL (Slack, Teams, ntfy, Discord, generic JSON webhooks ...) as one channel.

The URL often holds a secret (a webhook token), so it never reaches the database or a log: rows
name the channel by a hash of the URL and people see apprise's masked form.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from smartcron.alerts.channels import DeliveryResult, OutgoingMessage
from smartcron.errors import NotifierError

APPRISE_PREFIX = "apprise:"


@contextmanager
def _quiet_imports() -> Iterator[None]:
    # apprise loads its plugins lazily and some import modules deprecated in Python 3.11
    # (imghdr); that is apprise's business and must not turn into errors here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def channel_id_for(url: str) -> str:
    return APPRISE_PREFIX + hashlib.sha256(url.encode()).hexdigest()[:16]


class AppriseChannel:
    addressed = False

    def __init__(self, url: str) -> None:
        import apprise

        self._apprise: Any = apprise
        self._url = url
        with _quiet_imports():
            self._client = apprise.Apprise()
            if not self._client.add(url):
                scheme = url.split("://", 1)[0] if "://" in url else url[:12]
                raise NotifierError(f"apprise does not understand the URL (scheme {scheme!r})", permanent=True)
            plugin: Any = self._client[0]
            masked: str = plugin.url(privacy=True)
        self._label = masked.split("?", 1)[0]

    @property
    def id(self) -> str:
        return channel_id_for(self._url)

    @property
    def label(self) -> str:
        return self._label

    def deliver(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        for message in messages:
            error = self._send(message)
            if error is None:
                results.append(DeliveryResult())
                continue
            # The service is most likely down: the rest of the batch waits for the retry instead
            # of each waiting out its own timeout now.
            results += [DeliveryResult(error)] * (len(messages) - len(results))
            break
        return results

    def _send(self, message: OutgoingMessage) -> NotifierError | None:
        try:
            with _quiet_imports():
                accepted = self._client.notify(
                    body=message.body, title=message.subject, body_format=self._apprise.NotifyFormat.TEXT
                )
        except Exception as exc:  # a plugin bug must not take the dispatcher down
            return NotifierError(f"{self._label}: {type(exc).__name__}: {exc}")
        return None if accepted else NotifierError(f"{self._label}: not delivered (service unreachable?)")
