"""Routers: ``system`` (login, health probe, metrics, API docs), ``pages``, ``actions`` (forms), ``api``."""
