"""Renderers: typed results → rich tables and plain lines for people to read."""
