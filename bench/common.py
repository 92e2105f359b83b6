"""What every benchmark reports, so ``bench/run`` can print one table and write ``results.json``.

A benchmark module exposes ``figures(quick: bool) -> list[Figure]``; it may also keep its own
``main()`` for running it alone with more options. Each figure carries the physical floor measured
in the same run where one exists (spawning the same processes without smartcron, the same SQL
without smartcron's layers), so a reader sees how far smartcron is from what the machine can do.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Figure:
    name: str  # stable key in results.json, e.g. "burst.all_started_s"
    value: float
    unit: str  # "s", "ms", "runs/s", "B", "MB"
    target: float | None  # None: reported for information (e.g. growth series)
    better: Literal["lower", "higher"] = "lower"
    floor: float | None = None
    note: str = ""

    @property
    def meets(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target

    @property
    def ratio(self) -> float | None:
        """Measured value over the floor (how many times the machine's own minimum)."""
        if self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("name")
        data["meets"] = self.meets
        return data


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
