"""Column types that behave the same on SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

ID = BigInteger().with_variant(Integer(), "sqlite")
"""Primary keys: 64-bit, except on SQLite where only INTEGER aliases the compact rowid."""


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime.

    SQLite stores integer milliseconds since the epoch (8 bytes at most, usually 6, against 26 for
    ISO text), which keeps execution rows and their indexes small; PostgreSQL and MySQL use their
    native types so people reading the database see times. Naive datetimes are refused.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        if dialect.name == "mysql":
            from sqlalchemy.dialects import mysql  # only on MySQL: the import costs every command

            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return to_millis(value)
        if dialect.name == "mysql":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_millis(int(value))
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        raise TypeError(f"unexpected time value {value!r}")


def to_millis(value: datetime) -> int:
    delta = value - EPOCH
    return (delta.days * 86_400_000) + (delta.seconds * 1000) + (delta.microseconds // 1000)


def from_millis(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LongText(TypeDecorator[str]):
    """Text that may pass 64 KiB: a run's output preview (up to ``runner.output_preview_kb``, and
    more once invalid bytes are decoded as U+FFFD). MySQL's TEXT ends at 65,535 bytes, and in strict
    mode a longer value is an error, so there it is MEDIUMTEXT (16 MiB)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "mysql":
            from sqlalchemy.dialects import mysql  # only on MySQL: the import costs every command

            return dialect.type_descriptor(mysql.MEDIUMTEXT())
        return self.impl_instance


class JsonText(TypeDecorator[Any]):
    """JSON kept as compact text: identical on all three databases, no dialect JSON quirks."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)
