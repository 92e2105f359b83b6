"""The dashboard and JSON API (``smartcron web``). Build the application with ``create_app``."""
