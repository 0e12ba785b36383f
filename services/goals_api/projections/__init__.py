"""Read models fed by the formulation service's events (this service never reads its tables)."""
