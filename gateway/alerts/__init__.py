"""Operator alerts: conditions worth a person's attention, opened once, delivered, cleared."""
