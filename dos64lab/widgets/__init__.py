"""Views of live state for notebooks: display only, no logic (ARCHITECTURE)."""

from .roadmap import roadmap_svg, show_roadmap
from .pci import show_config_space, show_capability_chain, show_pci_table

__all__ = ["show_roadmap", "roadmap_svg", "show_config_space", "show_capability_chain",
           "show_pci_table"]
