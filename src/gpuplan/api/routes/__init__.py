"""Route modules, one per area, each a thin layer over the core."""
