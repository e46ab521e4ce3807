"""nbgrader, for real (issue 12): what tests/classroom/test_nbgrader_{even,odd}.py share.

For each chapter: nbgrader generates the student version; the solution notebook (as
committed) and the student version are both submitted and autograded -- that is, run to
the end by nbgrader's own executor.  The solution scores full marks on every graded
cell; the student version 0 on every one, and it still runs to the end with no error
output: each check says, on stderr, that its exercise is not done yet.  The chapters are
split over two test files (even, odd) so that pytest-xdist (``--dist loadfile``) runs
the two halves on two workers.
"""

from __future__ import annotations

import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "classroom"))
from nbgrade import Course, chapters  # noqa: E402

CHAPTERS = chapters()


def half(parity: int):
    return [nb for nb in CHAPTERS if int(nb.name[:2]) % 2 == parity]


def graded_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def errors(nb: dict) -> list[str]:
    """Every error output, and every code cell that did not run, of an executed notebook."""
    found = []
    for c in nb["cells"]:
        if c["cell_type"] != "code":
            continue
        gid = c["metadata"].get("nbgrader", {}).get("grade_id", "?")
        if c.get("execution_count") is None:
            found.append(f"{gid}: not run")
        for o in c.get("outputs", []):
            if o["output_type"] == "error":
                found.append(f"{gid}: {o['ename']}: {o['evalue'][:300]}")
    return found


def stderr(cell: dict) -> str:
    return "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                   for o in cell.get("outputs", [])
                   if o["output_type"] == "stream" and o["name"] == "stderr")


def generate(tmp_path_factory, parity: int) -> Course:
    course = Course(tmp_path_factory.mktemp(f"course{parity}"))
    course.generate(half(parity))
    return course


def check_chapter(course: Course, notebook) -> None:
    name, stem = notebook.name, notebook.stem
    solved, student = f"solved-{stem[:2]}", f"student-{stem[:2]}"
    released = course.release / name

    # the student version: no solution, no hidden test, a stub in every solution cell
    text = released.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text, name
    source = json.loads(notebook.read_text())
    solutions = [c for c in source["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    # an exercise is a solution cell and a graded test cell; a chapter may have none (11)
    assert bool(solutions) == bool(graded_cells(source)), f"{name}: solution without test?"
    stub = json.loads(text)
    assert all("raise NotImplementedError()" in "".join(c["source"])
               for c in stub["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
               and c["cell_type"] == "code")

    course.submit(solved, [notebook])
    course.submit(student, [released])
    course.autograde(f"*-{stem[:2]}")

    full = course.scores(solved)[stem]
    assert all(score == top for score, top in full.values()), (name, full)
    zero = course.scores(student)[stem]
    assert set(zero) == set(full) and all(score == 0 for score, _ in zero.values()), (name, zero)

    ran = course.autograded(solved, name)
    assert not errors(ran), (name, errors(ran))
    ran = course.autograded(student, name)
    assert not errors(ran), f"{name}: the student version did not run to the end: {errors(ran)}"
    for cell in graded_cells(ran):
        said = stderr(cell)
        gid = cell["metadata"]["nbgrader"]["grade_id"]
        assert "not done yet" in said and "Traceback" not in said, (name, gid, said)
