"""Alerts: policy (severity, delay, dedup, rules) -> notification rows -> dispatcher -> channels."""
