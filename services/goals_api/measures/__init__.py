"""Family measures: closure feedback survey and SCORE-15."""
