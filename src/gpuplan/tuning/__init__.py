"""Tuning: layered task configs (seed 003), experiments that really run, SLO scoring."""
