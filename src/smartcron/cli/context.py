"""What every command shares: settings loaded once, a store opened on first use, output helpers.

The store (and with it SQLAlchemy, a third of a second to import on a small machine) is imported
on first use, so commands that never touch the database do not pay for it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from smartcron.config import Settings, load_settings
from smartcron.errors import StoreUnavailableError

if TYPE_CHECKING:
    from smartcron.store import Store


class AppContext:
    def __init__(self, config_file: str | None = None) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None
        self._store: Store | None = None
        self.stall_timeout: float | None = None
        """Set by the runner commands before the store is opened: see ``create_store_engine``."""

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(os.environ, self.config_file)
            if self._settings.failpoint:
                from smartcron import failpoints

                failpoints.arm(self._settings.failpoint)
        return self._settings

    @property
    def store(self) -> Store:
        """The store, opened on first use; its schema must exist (``smartcron init``)."""
        if self._store is None:
            from sqlalchemy.exc import DBAPIError

            from smartcron.store import open_store
            from smartcron.store.migrate import ensure_current

            store = open_store(self.settings, stall_timeout=self.stall_timeout)
            try:
                ensure_current(store.engine)
            except DBAPIError as exc:  # unreachable, refused, wrong password: one line, no traceback
                store.close()
                reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
                raise StoreUnavailableError(f"database unreachable ({store.url}): {reason}") from exc
            self._store = store
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_app = click.make_pass_decorator(AppContext)


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=json_default, ensure_ascii=False))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")
