"""What the health page and the alert center show, gathered from the store and the services."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.domain.health import CheckResult
from smartcron.errors import SmartcronError
from smartcron.store import Store
from smartcron.store.nodes import Heartbeat
from smartcron.web.alert_view import alert_facts
from smartcron.web.heartbeat_view import expectation
from smartcron.web.queries import task_names

log = logging.getLogger(__name__)


class ScorecardCache:
    """The monitor's scorecard, recomputed in the background when older than ``MAX_AGE``.

    A request gets the newest finished computation at once and never waits on one (except the very
    first). The indicators over a day or a week of runs (``WINDOWED``) are computed again only
    every ``WINDOWED_MAX_AGE``: on PostgreSQL with 1,000,000 runs they were 100-170 ms of work every
    5 s, and the dashboard request that ran beside that work waited for it (its p95 went from
    20 ms to over 100 ms)."""

    MAX_AGE = 5.0
    WINDOWED_MAX_AGE = 60.0

    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._result: list[CheckResult] | None = None
        self._problem: str | None = None
        self._computed_at: datetime | None = None
        self._computed_mono = 0.0
        self._windowed_mono: float | None = None  # when the windowed indicators were last computed
        self._refreshing = False
        self._thread: threading.Thread | None = None

    def get(self) -> tuple[list[CheckResult] | None, datetime | None, str | None]:
        with self._lock:
            first = self._computed_at is None and not self._refreshing
            stale = self._clock.monotonic() - self._computed_mono > self.MAX_AGE
            start_refresh = stale and not self._refreshing and not first
            if first or start_refresh:
                self._refreshing = True
        if first:
            self._compute()
        elif start_refresh:
            self._thread = threading.Thread(target=self._compute, name="scorecard", daemon=True)
            self._thread.start()
        with self._lock:
            return self._result, self._computed_at, self._problem

    def _compute(self) -> None:
        from smartcron.monitor.scorecard import INDICATORS, WINDOWED, scorecard

        now, mono = self._clock.now(), self._clock.monotonic()
        windowed_fresh = self._windowed_mono is not None and mono - self._windowed_mono < self.WINDOWED_MAX_AGE
        previous = self._result if windowed_fresh else None
        kept = {i: r for i, r in zip(INDICATORS, previous or (), strict=False) if i in WINDOWED}
        result: list[CheckResult] | None = None
        problem = None
        try:
            result = scorecard(self._store, self._settings, now, kept=kept)
            if not kept:
                self._windowed_mono = mono
        except SmartcronError as exc:
            problem = exc.message
        except Exception as exc:  # a failing indicator must not take the health page down with it
            log.exception("scorecard failed")
            problem = f"the scorecard failed: {type(exc).__name__}"
        with self._lock:
            self._result, self._problem = result, problem
            self._computed_at, self._computed_mono = now, self._clock.monotonic()
            self._refreshing = False


def scorecard_or_reason(request: Request) -> tuple[list[CheckResult] | None, str | None]:
    """The newest scorecard, or why there is none."""
    result, _, problem = request.app.state.scorecard.get()
    return result, problem


def scorecard_rows(card: list[CheckResult] | None) -> list[dict[str, Any]] | None:
    """The scorecard's indicators as plain rows (name, status, value, message)."""
    if card is None:
        return None
    return [result.to_dict() for result in card]


def health_panel(request: Request) -> dict[str, Any]:
    state = request.app.state
    card, computed_at, card_reason = state.scorecard.get()
    now = state.clock.now()
    return {
        "checks": state.store.health.latest(),
        "heartbeats": [_heartbeat_row(beat, now, state.settings) for beat in state.store.nodes.all()],
        "scorecard": scorecard_rows(card),
        "scorecard_reason": card_reason,
        "scorecard_at": computed_at,
        "runner_down_after": state.settings.health_runner_down_after,
    }


def _heartbeat_row(beat: Heartbeat, now: datetime, settings: Settings) -> dict[str, Any]:
    age = (now - beat.heartbeat_at).total_seconds()
    expected = expectation(beat.role, beat.info, settings)
    return {"beat": beat, "age": age, "tags": _tags(beat.info), "tone": expected.tone(age), "expected": expected}


def _tags(info: Any) -> list[str]:
    """The tags a runner's heartbeat carries (``node_tags``)."""
    tags = info.get("tags") if isinstance(info, dict) else None
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


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


SNOOZE_CHOICES = (("1h", "1 hour"), ("4h", "4 hours"), ("1d", "1 day"), ("7d", "7 days"))
SILENCE_CHOICES = (("2h", "2 hours"), ("8h", "8 hours"), ("1d", "1 day"), ("7d", "7 days"))
"""The silence lengths offered beside an alert (the silences page, the API and the CLI take others)."""
"""The snooze lengths the alert center offers (the API and the CLI take any from 1 min to 30 days)."""


def alert_center(request: Request, before: int | None) -> dict[str, Any]:
    store = request.app.state.store
    history = store.alerts.list(limit=50, before_id=before)
    active = store.alerts.list(active_only=True, limit=200)
    return {
        "active": active,
        "alert_facts": alert_facts(store, [*active, *history], now=request.app.state.clock.now()),
        "before": before,
        "counts": {severity.value: n for severity, n in store.alerts.count_open_by_severity().items()},
        "history": history,
        "next_before": history[-1].id if len(history) == 50 else None,
        "rules": store.alert_rules.list(),
        "channels": channels(request.app.state.settings),
        "tasks": task_names(store),
        "now": request.app.state.clock.now(),
        "snooze_choices": SNOOZE_CHOICES,
        "silence_choices": SILENCE_CHOICES,
    }
