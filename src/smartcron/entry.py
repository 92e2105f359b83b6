"""The ``smartcron`` program. A plain ``smartcron tick`` with nothing to do is answered before the
command line machinery is even imported (``runner.idle_tick``); everything else goes to the CLI."""

from __future__ import annotations

import os
import sys
from typing import Any


def main() -> Any:
    if sys.argv[1:] == ["tick"]:
        from smartcron.config import load_settings
        from smartcron.errors import SmartcronError

        try:
            settings = load_settings(os.environ)
        except SmartcronError:
            pass  # the CLI says what is wrong with the settings, in its own words
        else:
            from smartcron.runner.idle_tick import tick_if_idle

            if tick_if_idle(settings):
                return None
    from smartcron.cli.main import main as cli_main

    return cli_main()
