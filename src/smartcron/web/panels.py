"""What the health page and the alert center show, gathered from the store and the services."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from smartcron.config import Settings
from smartcron.errors import SmartcronError

log = logging.getLogger(__name__)


def scorecard_or_reason(request: Request) -> tuple[Any, str | None]:
    """The monitor's scorecard, or why there is none."""
    from smartcron.monitor.scorecard import scorecard

    state = request.app.state
    try:
        return scorecard(state.store, state.settings, state.clock.now()), None
    except SmartcronError as exc:
        return None, exc.message


def scorecard_rows(card: Any) -> list[dict[str, Any]] | None:
    """The scorecard's indicators as plain rows (name, status, value, message)."""
    if card is None:
        return None
    return [result.to_dict() for result in card]


def health_panel(request: Request) -> dict[str, Any]:
    state = request.app.state
    card, card_reason = scorecard_or_reason(request)
    now = state.clock.now()
    return {
        "checks": state.store.health.latest(),
        "heartbeats": [
            {"beat": beat, "age": (now - beat.heartbeat_at).total_seconds()} for beat in state.store.nodes.all()
        ],
        "scorecard": scorecard_rows(card),
        "scorecard_reason": card_reason,
        "runner_down_after": state.settings.health_runner_down_after,
    }


def masked_url(url: str) -> str:
    """An apprise URL without its secrets: scheme and host only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}/…" if parts.scheme else "(unparsable URL)"


def channels(settings: Settings) -> dict[str, Any]:
    return {
        "smtp_host": settings.smtp_host,
        "smtp_port": settings.smtp_port,
        "smtp_security": "TLS" if settings.smtp_tls else ("STARTTLS" if settings.smtp_starttls else "none"),
        "email_from": settings.alert_email_from,
        "email_to": list(settings.alert_email_to),
        "urls": [masked_url(url) for url in settings.alert_urls],
        "high_delay": settings.alert_high_delay,
        "renotify_interval": settings.alert_renotify_interval,
    }


def alert_center(request: Request, before: int | None) -> dict[str, Any]:
    store = request.app.state.store
    history = store.alerts.list(limit=50, before_id=before)
    return {
        "active": store.alerts.list(active_only=True, limit=200),
        "counts": {severity.value: n for severity, n in store.alerts.count_open_by_severity().items()},
        "history": history,
        "next_before": history[-1].id if len(history) == 50 else None,
        "rules": store.alert_rules.list(),
        "channels": channels(request.app.state.settings),
        "tasks": [task.name for task in store.tasks.list()],
    }
