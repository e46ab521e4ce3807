"""Cells that change device state are safe to run again (issue 12), chapter 03.

The notebook runs with each device cell run twice in a row -- post RX buffers, kick TX,
reap, watch the indices, VirtioNetDevice -- as a learner does who presses Shift-Enter
once too often: no error, no "queue 0 full", no DMA memory leaked.
"""

import copy

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

TWICE = ["ch03-cell-07", "ch03-cell-09", "ch03-cell-11", "ch03-cell-13", "ch03-cell-17"]


@pytest.mark.notebook
def test_chapter_03_device_cells_run_twice():
    nb = nbformat.read(ROOT / "notebooks" / "03-virtqueues.ipynb", 4)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        cells.append(cell)
        if gid == "ch03-cell-03":
            cells.append(nbformat.v4.new_code_cell("allocated = list(dma.allocations)"))
        if gid in TWICE:
            again = copy.deepcopy(cell)
            again["id"] = f"{gid}-again"
            cells.append(again)
        if gid == "ch03-cell-17":
            cells.append(nbformat.v4.new_code_cell(
                "assert list(dma.allocations) == allocated, 'DMA memory leaked'\n"
                "assert rx.num_free + len(rx.snapshot()['in_flight']) == SIZE"))
    nb.cells = cells
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
