"""The dashboard and JSON API as one FastAPI application, built by :func:`create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from smartcron import __version__
from smartcron.clock import Clock, SystemClock
from smartcron.config import Settings
from smartcron.store import Store, open_store
from smartcron.web.activity import ActivityCache
from smartcron.web.auth import LoginRateLimiter
from smartcron.web.conditional import ConditionalGetMiddleware
from smartcron.web.errors import install_error_handlers
from smartcron.web.headers import SecurityHeadersMiddleware
from smartcron.web.live_events import ChangeFeed
from smartcron.web.livelog import RunOutputReader
from smartcron.web.metrics import MetricsExposition
from smartcron.web.metrics_cache import CachedMetrics
from smartcron.web.panels import ScorecardCache
from smartcron.web.rendering import make_templates
from smartcron.web.success_window import SuccessWindow

STATIC_DIR = Path(__file__).with_name("static")
SESSION_COOKIE = "smartcron_session"
SESSION_MAX_AGE = 12 * 3600


def create_app(
    settings: Settings,
    store: Store | None = None,
    *,
    clock: Clock | None = None,
    secret_key: bytes | None = None,
    live_interval: float = 0.5,
) -> FastAPI:
    """The application. Without ``store`` it opens (and on shutdown closes) one from ``settings``.
    ``live_interval`` is how often, in seconds, live pages learn of changes in the database: one
    small snapshot read per interval for all open tabs together. At 1 s a change took up to 1.1 s
    to show (bench/dashboard_idle.py, p95); at 0.5 s, 0.42 s."""
    from smartcron.services.setup import ensure_secret_key
    from smartcron.web.routes import (
        accounts_page,
        actions,
        api,
        api_accounts,
        api_alerts,
        events,
        me_page,
        nodes,
        pages,
        run_page,
        silences_page,
        system,
        tasks_admin,
    )

    owned = store is None
    the_store = store if store is not None else open_store(settings)
    the_clock = clock or SystemClock()
    key = secret_key or ensure_secret_key(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            the_store.close()

    app = FastAPI(
        title="smartcron",
        version=__version__,
        description="The smartcron JSON API. Authenticate with a session cookie or `Authorization: Bearer TOKEN` "
        "(`smartcron tokens create NAME --role ROLE`).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = the_store
    app.state.clock = the_clock
    app.state.login_limiter = LoginRateLimiter(the_clock)
    app.state.templates = make_templates(ZoneInfo(settings.display_timezone))
    exposition = MetricsExposition(the_store, the_clock)
    app.state.metrics = CachedMetrics(exposition.render_stored, the_store.changes.snapshot, the_clock)
    app.state.activity = ActivityCache(the_store, the_clock)
    app.state.scorecard = ScorecardCache(the_store, settings, the_clock)
    app.state.success_window = SuccessWindow(the_store)
    app.state.run_output = RunOutputReader(settings.log_dir)
    app.state.live_feed = ChangeFeed(the_store, settings, the_clock, interval=live_interval)

    app.add_middleware(
        SessionMiddleware,
        secret_key=key.decode(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.web_base_url.startswith("https://"),
    )
    app.add_middleware(ConditionalGetMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (system, pages, run_page, events, actions, silences_page, accounts_page, tasks_admin, me_page):
        app.include_router(module.router)
    for module in (api, api_alerts, api_accounts):
        app.include_router(module.router)
    app.include_router(nodes.pages)
    app.include_router(nodes.api)
    install_error_handlers(app)
    return app
