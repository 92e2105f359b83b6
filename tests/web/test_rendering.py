"""The dashboard's template filters."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from smartcron.web.rendering import make_templates
from tests.conftest import utc


def test_times_show_in_the_installations_time_zone_with_its_abbreviation() -> None:
    auckland = make_templates(ZoneInfo("Pacific/Auckland")).env.from_string("{{ at | time }}")
    default = make_templates().env.from_string("{{ at | time }}")

    assert auckland.render(at=utc(2026, 11, 27, 4, 10, 46)) == "2026-11-27 17:10:46 NZDT"
    assert auckland.render(at=utc(2026, 6, 1, 0, 0)) == "2026-06-01 12:00:00 NZST"
    assert default.render(at=utc(2026, 11, 27, 4, 10, 46)) == "2026-11-27 04:10:46 UTC"
    assert default.render(at=None) == "-"
