"""Checks for learners' own code, run against the live device.

Each ``check_*`` runs the learner's function on a real machine, compares with
what QEMU itself reports, prints what was right, and raises ``ExerciseFailed``
(an AssertionError, so a notebook run stops there) saying what was wrong.
"""

from .common import ExerciseFailed
from .welcome import check_pci_id

__all__ = ["ExerciseFailed", "check_pci_id"]
