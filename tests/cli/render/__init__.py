"""Tests of the terminal renderers, on a fixed-width console."""
