"""Views of live state for notebooks: display only, no logic (ARCHITECTURE)."""

from .roadmap import roadmap_svg, show_roadmap

__all__ = ["show_roadmap", "roadmap_svg"]
