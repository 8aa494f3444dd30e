"""Command-line entry points: ``seppmail-lifecycle`` (the operator) and ``kubectl-lifecycle``."""
