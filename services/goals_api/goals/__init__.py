"""SMART sub-goals, tracking scores, actions and evaluations (Appendix 5, steps 6-14)."""
