"""Tests of the models stage: registry, selection, estimation."""
