"""The chapters as nbgrader source notebooks (issue 12), checked statically (fast).

Every cell carries nbgrader metadata; every cell but a solution is locked; a solution cell
holds the markers and is followed by its locked, graded test cell with points; grade ids
are unique across the course; nbval markers are cell tags, never comments in the learner's
code; at least three chapters hold hidden tests.
"""

import json

import pytest

from conftest import ROOT

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def cells(path):
    return json.loads(path.read_text())["cells"]


def meta(cell):
    return cell["metadata"].get("nbgrader", {})


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_cell_is_nbgrader_cell_and_locked_unless_a_solution(path):
    for i, c in enumerate(cells(path)):
        m = meta(c)
        source = "".join(c["source"])
        assert m.get("grade_id") and m.get("schema_version") == 3, (path.name, i)
        assert "NBVAL_" not in source, f"{path.name} cell {i}: an nbval comment (use a tag)"
        if m.get("solution"):
            assert not m.get("locked") and c["cell_type"] == "code", (path.name, i)
            assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source
            assert "check_" not in source, f"{path.name} cell {i}: the check belongs in the test cell"
        else:
            assert m.get("locked"), f"{path.name} cell {i} ({m.get('grade_id')}) is not locked"
            assert "BEGIN SOLUTION" not in source, (path.name, i)
        if m.get("grade"):
            assert c["cell_type"] == "code" and m.get("points", 0) > 0, (path.name, i)
            assert "check_" in source, f"{path.name} cell {i}: a test cell runs a live check"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_each_solution_has_its_graded_test_cell_after_it(path):
    cs = cells(path)
    for i, c in enumerate(cs):
        if meta(c).get("solution"):
            after = [meta(x) for x in cs[i + 1:]]
            assert any(m.get("grade") for m in after), f"{path.name}: solution {i} is never graded"


def test_grade_ids_are_unique_across_the_course():
    ids = [meta(c)["grade_id"] for p in CHAPTERS for c in cells(p)]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_hidden_tests_in_at_least_three_chapters():
    hidden = [p.stem for p in CHAPTERS
              if any("### BEGIN HIDDEN TESTS" in "".join(c["source"]) and meta(c).get("grade")
                     for c in cells(p))]
    assert len(hidden) >= 3, hidden
