"""The store's connections when the server stops answering or goes away (PostgreSQL, MariaDB).

Through a real TCP proxy in front of the real server: a stalled call fails within the runner's
bound as a lost connection instead of holding its thread forever, and the engine is usable again
once the server answers; a transaction's isolation level is its own, so a connection handed back
to the pool after the server went away has nothing left to reset.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from smartcron.store.engine import create_store_engine, write_transaction
from tests.conftest import make_database_url
from tests.faults.proxy import TcpProxy

STALL = 1.0


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_database_url(request.param, tmp_path_factory.mktemp("db"), "_engine")


def _through(proxy: TcpProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def _proxy_for(url: str) -> TcpProxy:
    parsed = make_url(url)
    return TcpProxy(parsed.host or "127.0.0.1", parsed.port or (5432 if "postgresql" in url else 3306))


def _one(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT 1")).scalar_one())


@pytest.mark.parametrize("statement", ["query", "commit"])
def test_a_call_the_server_never_answers_fails_as_a_lost_connection_and_the_engine_recovers(
    server_url: str, statement: str
) -> None:
    with _proxy_for(server_url) as proxy:
        engine = create_store_engine(_through(proxy, server_url), stall_timeout=STALL)
        try:
            assert _one(engine) == 1
            with pytest.raises(OperationalError) as caught, engine.connect() as conn:
                if statement == "query":
                    proxy.stall()
                    conn.execute(text("SELECT 1"))
                else:
                    conn.execute(text("SELECT 1"))
                    proxy.stall()
                    conn.commit()
            assert caught.value.connection_invalidated, "the connection is dropped, not handed back"
            message = str(caught.value.orig)
            assert "no answer from the database server for 1 s" in message or "timed out" in message, message
            proxy.restore()
            assert _one(engine) == 1
        finally:
            proxy.restore()
            engine.dispose()


def test_without_a_bound_a_stalled_call_waits_for_the_server(server_url: str) -> None:
    """The bound is the runner's choice: other commands wait as long as the server takes."""
    import threading

    with _proxy_for(server_url) as proxy:
        engine = create_store_engine(_through(proxy, server_url))
        try:
            assert _one(engine) == 1
            proxy.stall()
            answered = threading.Event()
            worker = threading.Thread(target=lambda: (_one(engine), answered.set()), daemon=True)
            worker.start()
            assert not answered.wait(STALL * 3)
            proxy.restore()
            assert answered.wait(30)
        finally:
            proxy.restore()
            engine.dispose()


def test_read_committed_is_the_transactions_own_and_survives_a_vanished_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """MySQL/MariaDB only: PostgreSQL's default is read committed already. Told apart by what a
    transaction's second read sees of a row another connection committed after its first."""
    server_url = make_database_url("mariadb", tmp_path_factory.mktemp("db"), "_isolation")
    count = text("SELECT COUNT(*) FROM probe")
    other = create_store_engine(server_url)
    with _proxy_for(server_url) as proxy:
        engine = create_store_engine(_through(proxy, server_url), pool_size=1, stall_timeout=STALL)

        def second_read_sees_a_new_row(**options: bool) -> bool:
            with write_transaction(engine, **options) as conn:
                before = conn.execute(count).scalar_one()
                with other.begin() as elsewhere:
                    elsewhere.execute(text("INSERT INTO probe VALUES (DEFAULT)"))
                return bool(conn.execute(count).scalar_one() > before)

        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE probe (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB"))
            assert second_read_sees_a_new_row(read_committed=True)
            assert not second_read_sees_a_new_row(), "the next transaction on the connection has the default"
            # An OperationalError, not the driver's own error from resetting the connection.
            with pytest.raises(OperationalError), write_transaction(engine, read_committed=True) as conn:
                conn.execute(count)
                proxy.cut()
                conn.execute(count)
            proxy.restore()
            assert _one(engine) == 1
        finally:
            proxy.restore()
            engine.dispose()
            other.dispose()
