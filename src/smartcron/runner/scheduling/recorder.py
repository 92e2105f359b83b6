"""Writing ended runs to the store, off the runner's path to the next slot.

The supervisor hands each ended run over from its own thread (``submit``); one recorder thread
writes what has gathered as one batch, one ``finish`` transaction per lease token. Each run's row is
written once. A database error loses nothing: the batch is put in the local spool (:mod:`.spool`,
on disk, so a restart loses nothing either) and tried again after growing pauses (with jitter,
capped at a few seconds) until it is written; then its spool files go. A runner that stops while
the database is still away leaves the spooled outcomes for the next runner of the node. Whatever
could not even be spooled is logged at ERROR one line per run (errors.log keeps it).

A batch the database refuses for another reason than being away (a value it rejects, a
constraint, a trigger) is written again one record at a time, so that one run it will not take
holds up no other; that one is said (WARNING, with the database's words), stays in the spool, and
is tried again on its own after growing pauses, up to REFUSED_LONGEST_PAUSE.

A record waits until its run is *ready*: the row must hold the run's pid before its outcome lands,
or the later pid update would mark the task as running again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from smartcron.errors import StoreError
from smartcron.runner.scheduling.connectivity import first_line, is_unreachable
from smartcron.runner.scheduling.spool import Spool, SpoolEntry
from smartcron.store import Store
from smartcron.store.executions import Finish

log = logging.getLogger(__name__)

FIRST_PAUSE = 0.05
LONGEST_PAUSE = 5.0
REFUSED_FIRST_PAUSE = 1.0
REFUSED_LONGEST_PAUSE = 300.0
BATCH_LIMIT = 2000
GATHER_QUIET = 0.005
GATHER_LONGEST = 0.1
"""Ended runs are written once none has come for GATHER_QUIET seconds, or once the oldest has waited
GATHER_LONGEST: a burst of endings becomes a few large batches rather than many small ones, each a
transaction, and each competing with the supervisor thread for the interpreter."""


@dataclass(slots=True)
class Record:
    finish: Finish
    token: str | None
    """Lease token the row must still hold (None: no fencing, e.g. recovery)."""
    context: Any = None
    """Handed back to the owner's callback unchanged."""
    ready: threading.Event = field(default_factory=threading.Event)
    spooled: bool = False
    """Its outcome is in the spool (put there by this recorder, or found there at start)."""
    refusals: int = 0
    """How many times in a row the database refused this record on its own."""


Callback = Callable[[Sequence[Record], Sequence[Record]], None]
"""Called from the recorder thread with (written, dropped): dropped rows were no longer live under
the record's lease (another runner ended them), so nothing was written for them."""


class Recorder:
    def __init__(self, store: Store, *, on_done: Callback, spool: Spool | None = None) -> None:
        self._store = store
        self._on_done = on_done
        self.spool = spool
        self._cond = threading.Condition()
        self._ready: list[Record] = []
        self._waiting: list[Record] = []  # submitted, not ready yet (kept apart: never rescanned per submit)
        self._refused: list[tuple[float, Record]] = []  # (monotonic time to try again, record)
        self._in_flight = 0
        self._batch: list[Record] = []  # the batch being written
        self._pauses = 0
        self._stopping = False
        self._gave_up = False  # stopping while the database fails: leave the rest to stop()
        self._thread: threading.Thread | None = None
        self._pause = threading.Event()  # set only to cut a pause short when stopping
        self._first_ready = 0.0  # time.monotonic() of the oldest ready record
        self._last_ready = 0.0  # ... and of the newest

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="smartcron-recorder", daemon=True)
        self._thread.start()

    def submit(self, record: Record) -> None:
        with self._cond:
            if record.ready.is_set():
                self._add_ready([record])
            else:
                self._waiting.append(record)

    def poke(self) -> None:
        """Some waiting records became ready: queue them for writing."""
        with self._cond:
            now_ready = [r for r in self._waiting if r.ready.is_set()]
            if now_ready:
                self._waiting = [r for r in self._waiting if not r.ready.is_set()]
                self._add_ready(now_ready)

    def _add_ready(self, records: list[Record]) -> None:
        # Under self._cond. The recorder thread is woken by the first only; it gathers the rest.
        self._last_ready = time.monotonic()
        if not self._ready:
            self._first_ready = self._last_ready
            self._cond.notify_all()
        self._ready += records

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No new batch starts while the runner is starting processes: in one process the two
        only slow each other down (the GIL, and SQLite's single writer), and starting comes first."""
        with self._cond:
            self._pauses += 1
        try:
            yield
        finally:
            with self._cond:
                self._pauses -= 1
                self._cond.notify_all()

    @property
    def busy(self) -> bool:
        with self._cond:
            return bool(self._ready) or bool(self._waiting) or self._in_flight > 0

    def flush(self, timeout: float | None = None, *, or_spooled: bool = False) -> bool:
        """Wait until every ready record submitted so far is written (or, ``or_spooled``, written
        or safe in the spool: a runner stopping during an outage need not wait for the database);
        False on timeout."""

        def settled() -> bool:
            if self._in_flight == 0 and not self._ready:
                return True
            return or_spooled and all(r.spooled for r in (*self._batch, *self._ready))

        with self._cond:
            return self._cond.wait_for(settled, timeout)

    def stop(self, timeout: float) -> list[Record]:
        """Write what is ready (trying for up to ``timeout``, unless it is all in the spool), end
        the thread; return what is left."""
        self.flush(timeout, or_spooled=True)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._pause.set()
        if self._thread is not None:
            self._thread.join()
        with self._cond:
            left = self._ready + self._waiting + [record for _, record in self._refused]
            self._ready, self._waiting, self._refused = [], [], []
        kept = [record for record in left if record.spooled]
        if kept and self.spool is not None:
            log.warning(
                "%d run(s) not recorded yet: kept in the spool %s for the next runner of this node",
                len(kept),
                self.spool.directory,
                extra={"action": "record"},
            )
        for record in left:
            if not record.spooled:
                log.error(
                    "run not recorded: %s", record.finish.outcome, extra={"execution": record.finish.execution_id}
                )
        return left

    # -- the recorder thread ----------------------------------------------------------------------

    def _take(self) -> list[Record] | None:
        with self._cond:
            while True:
                if self._stopping and self._gave_up:
                    return None
                self._bring_back_refused()
                if self._ready and (self._pauses == 0 or self._stopping):
                    gathering = self._gathering()
                    if gathering <= 0 or self._stopping or len(self._ready) >= BATCH_LIMIT:
                        batch, self._ready = self._ready[:BATCH_LIMIT], self._ready[BATCH_LIMIT:]
                        self._first_ready = self._last_ready
                        self._in_flight = len(batch)
                        self._batch = batch
                        return batch
                    self._cond.wait(gathering)
                    continue
                if self._stopping:
                    return None
                self._cond.wait(0.5)

    def _bring_back_refused(self) -> None:
        # Under self._cond.
        if not self._refused or self._stopping:
            return
        now = time.monotonic()
        due = [record for at, record in self._refused if at <= now]
        if due:
            self._refused = [(at, record) for at, record in self._refused if at > now]
            self._add_ready(due)

    def _gathering(self) -> float:
        """How much longer to wait for more ended runs before writing (0: write now)."""
        now = time.monotonic()
        return max(0.0, min(GATHER_QUIET - (now - self._last_ready), GATHER_LONGEST - (now - self._first_ready)))

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            written, dropped = self._write(batch)
            try:
                self._on_done(written, dropped)
            except Exception:
                log.exception("after recording runs", extra={"action": "record"})
            with self._cond:
                self._in_flight = 0
                self._batch = []
                self._cond.notify_all()

    def _write(self, batch: list[Record]) -> tuple[list[Record], list[Record]]:
        by_token: dict[str | None, list[Record]] = {}
        for record in batch:
            by_token.setdefault(record.token, []).append(record)
        written: list[Record] = []
        dropped: list[Record] = []
        for token, records in by_token.items():
            outcome = self._write_with_retries(records, token)
            if outcome is None:  # stopping with the database still failing: keep them for stop() to log
                with self._cond:
                    self._gave_up = True
                    self._ready.extend(records)
                continue
            ids, deferred = outcome
            settled = [record for record in records if record.finish.execution_id not in deferred]
            for record in settled:
                (written if record.finish.execution_id in ids else dropped).append(record)
            if self.spool is not None:
                self.spool.remove(r.finish.execution_id for r in settled if r.spooled)
        return written, dropped

    def _write_with_retries(self, records: list[Record], token: str | None) -> tuple[set[int], set[int]] | None:
        """(ids written, ids deferred because the database refused them), or None when stopping
        with the database still away."""
        finishes = [r.finish for r in records]
        pause = FIRST_PAUSE
        while True:
            try:
                return self._store.executions.finish(finishes, token=token), set()
            except (SQLAlchemyError, StoreError) as exc:
                self._keep(records, token)
                if not is_unreachable(exc):
                    return self._write_apart(records, token)
                # An unreachable database is said once by connectivity.DatabaseStatus, not per try.
                log.debug("cannot record %d run(s), retrying in %.2f s: %s", len(finishes), pause,
                          first_line(exc), extra={"action": "record"})  # fmt: skip
            with self._cond:
                if self._stopping:
                    return None
            self._pause.wait(pause)
            pause = min(LONGEST_PAUSE, pause * 2) * random.uniform(0.75, 1.0)

    def _write_apart(self, records: list[Record], token: str | None) -> tuple[set[int], set[int]]:
        """The database refused the batch: write each record alone, and defer those it refuses."""
        written: set[int] = set()
        deferred: set[int] = set()
        for record in records:
            try:
                written |= self._store.executions.finish([record.finish], token=token)
                record.refusals = 0
            except (SQLAlchemyError, StoreError) as exc:
                deferred.add(record.finish.execution_id)
                self._defer(record, exc)
        return written, deferred

    def _defer(self, record: Record, exc: BaseException) -> None:
        pause = min(REFUSED_LONGEST_PAUSE, REFUSED_FIRST_PAUSE * 2.0 ** min(record.refusals, 16))
        record.refusals += 1
        if not is_unreachable(exc):
            log.warning(
                "cannot record this run, the database refuses it (kept in the spool; trying again in %.0f s): %s",
                pause, first_line(exc), extra={"execution": record.finish.execution_id, "action": "record"},
            )  # fmt: skip
        with self._cond:
            self._refused.append((time.monotonic() + pause, record))

    def _keep(self, records: list[Record], token: str | None) -> None:
        """Put in the spool the records that are not there yet."""
        fresh = [r for r in records if not r.spooled]
        if self.spool is None or not fresh:
            return
        entries = [SpoolEntry(r.finish.execution_id, r.finish.task_id, token, r.finish.outcome) for r in fresh]
        kept = self.spool.put(entries)
        with self._cond:
            for record in fresh:
                record.spooled = record.finish.execution_id in kept
            self._cond.notify_all()
