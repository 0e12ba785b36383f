"""Aggregate reports (no personal data): goal progress, Table 4, closures, feedback, SCORE-15."""
