"""Evaluators (#20): definitions, checks, and the runner that judges sessions and
traces once they go quiet (docs/decisions.md, "Evaluators")."""
