"""The store: one SQLAlchemy Core implementation for SQLite, PostgreSQL and MySQL/MariaDB.

``Store`` holds the engine and one repository per concept (``store.tasks``, ``store.executions``,
...). Each repository documents its concurrency contract; dialect quirks stay inside this package.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from smartcron.errors import StoreUnavailableError
from smartcron.store.alert_rules import AlertRuleRepository
from smartcron.store.alerts import AlertRepository
from smartcron.store.audit import AuditRepository
from smartcron.store.changes import ChangeRepository
from smartcron.store.chores import ChoreRepository
from smartcron.store.engine import create_store_engine
from smartcron.store.executions import ExecutionRepository
from smartcron.store.health import HealthRepository, MetricRepository
from smartcron.store.leases import LeaseRepository
from smartcron.store.nodes import NodeRepository
from smartcron.store.notifications import NotificationRepository
from smartcron.store.run_stats import RunStatistics
from smartcron.store.silences import SilenceRepository
from smartcron.store.slots import SlotRepository
from smartcron.store.tasks import TaskRepository
from smartcron.store.users import TokenRepository, UserRepository

if TYPE_CHECKING:
    from smartcron.config import Settings

__all__ = ["Store", "open_store"]


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tasks = TaskRepository(engine)
        self.alerts, self.alert_rules = AlertRepository(engine), AlertRuleRepository(engine)
        self.notifications = NotificationRepository(engine)
        self.silences = SilenceRepository(engine)
        self.executions = ExecutionRepository(engine)
        self.slots = SlotRepository(engine)
        self.leases = LeaseRepository(engine)
        self.nodes = NodeRepository(engine)
        self.chores = ChoreRepository(engine)
        self.audit = AuditRepository(engine)
        self.health = HealthRepository(engine)
        self.metrics = MetricRepository(engine)
        self.run_stats = RunStatistics(engine)
        self.users = UserRepository(engine)
        self.tokens = TokenRepository(engine)
        self.changes = ChangeRepository(engine)

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql`` or ``mysql`` (MariaDB reports ``mysql``)."""
        return self.engine.dialect.name

    @cached_property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        from smartcron.store.migrate import upgrade

        upgrade(self.engine)

    def ping(self) -> float:
        """Round-trip one query; returns the latency in seconds or raises StoreUnavailableError."""
        import time

        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as exc:
            raise StoreUnavailableError(f"database unreachable: {exc.orig or exc}") from exc
        return time.perf_counter() - started

    def database_now(self) -> datetime:
        """The database server's clock, which several nodes share (DESIGN 3.12)."""
        if self.dialect == "sqlite":
            return datetime.now(UTC)
        # The time of the statement itself, to the microsecond (PostgreSQL's now() is the start of
        # the transaction; MySQL's NOW() has whole seconds).
        reading = func.clock_timestamp() if self.dialect == "postgresql" else func.utc_timestamp(literal_column("6"))
        with self.engine.connect() as conn:
            value = conn.execute(select(reading)).scalar_one()
        moment: datetime = value
        if moment.tzinfo is None:  # MySQL's UTC_TIMESTAMP() is naive UTC
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def close(self) -> None:
        self.engine.dispose()


def open_store(settings: Settings | str, *, stall_timeout: float | None = None) -> Store:
    """``stall_timeout``: see :func:`~smartcron.store.engine.create_store_engine`."""
    url = settings if isinstance(settings, str) else settings.database_url
    return Store(create_store_engine(url, stall_timeout=stall_timeout))
