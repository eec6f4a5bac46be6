"""Web face of gpuplan: the GPU settings page, rendered on the server, kept live by plain JS.

Templates and static files ship inside the package: no Node, no build step.
The page reads the same documents the JSON API serves; ``gpuplan.api.routes.pages``
mounts it on the app.
"""

from gpuplan.web.page import SettingsPage, settings_page
from gpuplan.web.render import STATIC_DIR, render
from gpuplan.web.views import STRATEGY_CHOICES

__all__ = ["STATIC_DIR", "STRATEGY_CHOICES", "SettingsPage", "render", "settings_page"]
