"""Views of live state for notebooks: display only, no logic (ARCHITECTURE)."""

from .roadmap import roadmap_svg, show_roadmap                                    # every chapter
from .pci import show_config_space, show_capability_chain, show_pci_table        # chapter 01
from .pci import PciTree, pci_tree_svg, show_pci_tree                             # chapter 01
from .rings import RingView, rings_html, show_rings                               # chapter 03
from .rings import RingPicture, rings_svg, watch_rings                            # chapter 03
from .frames import frame_fields, show_frame_fields                               # chapter 04
from .ladder import Ladder, ladder_svg, show_ladder                               # chapters 05-07
from .tcp_states import StateDiagram, state_diagram_svg                           # chapter 07
from .plots import LinePlot, PollTimeline, TcpTrace, tcp_plot                     # chapters 07, 08

__all__ = ["show_roadmap", "roadmap_svg", "show_config_space", "show_capability_chain",
           "show_pci_table", "show_rings", "RingView", "rings_html", "show_frame_fields",
           "frame_fields", "Ladder", "show_ladder", "ladder_svg", "StateDiagram",
           "state_diagram_svg", "TcpTrace", "PollTimeline", "LinePlot", "tcp_plot",
           "show_pci_tree", "PciTree", "pci_tree_svg", "RingPicture", "rings_svg", "watch_rings"]
