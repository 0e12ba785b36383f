"""Co-produced plans: one open plan per family, on a completed formulation."""
