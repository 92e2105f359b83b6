"""The health monitor: checks of the machine, the store and the runs, metrics, and the scorecard."""
