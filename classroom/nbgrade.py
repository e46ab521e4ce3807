"""nbgrader for DOS64 Lab: student versions, and autograding, in a course folder of its own.

The committed notebooks are nbgrader *source* notebooks: each exercise is a solution
cell (the answer between ``### BEGIN SOLUTION`` / ``### END SOLUTION``) and a locked,
graded test cell that runs a live ``check_*()`` (some with ``### BEGIN HIDDEN TESTS``).
This module lays out an nbgrader course folder around them and runs nbgrader's own
command line on it, so what it does is what a teacher's ``nbgrader`` does.

    python classroom/nbgrade.py student [--out student] [NOTEBOOK ...]
        the student versions (``make student``: every chapter into student/)
    python classroom/nbgrade.py autograde SUBMISSION.ipynb ... [--student NAME]
        grade submitted notebooks; prints one line per exercise and the total

The course folder: ``source/dos64lab/`` (the chapters), ``release/`` (student versions),
``submitted/<student>/dos64lab/`` (what a student handed in), ``autograded/`` (executed
and scored), and ``gradebook.db``.  docs/teaching.md is the teacher's walk through it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ASSIGNMENT = "dos64lab"

#: seconds one cell may run when autograding: the slowest check boots its own machine
#: and talks to slirp under TCG on a loaded 2-core host; 120 s leaves a wide margin
#: (the slowest graded cell takes ~3 s here).
CELL_TIMEOUT = 120


def chapters() -> list[Path]:
    """Every chapter notebook, in order (09-12 join as they are written)."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


class Course:
    """An nbgrader course folder at ``root`` (made if missing)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = f"sqlite:///{self.root / 'gradebook.db'}"

    def nbgrader(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        """Run ``nbgrader ARGS`` on this course; raise with nbgrader's output if it fails."""
        argv = [sys.executable, "-m", "nbgrader", *args,
                f"--CourseDirectory.root={self.root}", f"--CourseDirectory.db_url={self.db}",
                f"--Execute.timeout={CELL_TIMEOUT}"]
        # nbgrader runs `alembic` (its gradebook's migrations) from PATH: the venv's
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                                    f"{os.environ.get('PATH', '')}")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
        return done

    @property
    def source(self) -> Path:
        return self.root / "source" / ASSIGNMENT

    @property
    def release(self) -> Path:
        return self.root / "release" / ASSIGNMENT

    def generate(self, notebooks: list[Path] | None = None) -> list[Path]:
        """Copy ``notebooks`` (default: every chapter) in as the source and generate the
        student versions; return their paths (in release/)."""
        notebooks = chapters() if notebooks is None else [Path(n) for n in notebooks]
        self.source.mkdir(parents=True, exist_ok=True)
        for nb in notebooks:
            shutil.copy(nb, self.source / nb.name)
        self.nbgrader("generate_assignment", ASSIGNMENT, "--force")
        return [self.release / nb.name for nb in notebooks]

    def submit(self, student: str, notebooks: list[Path]) -> None:
        """Put ``notebooks`` where nbgrader collects ``student``'s submission."""
        folder = self.root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        for nb in notebooks:
            shutil.copy(nb, folder / Path(nb).name)

    def autograde(self, student: str | None = None) -> None:
        """Execute and score the submissions (one student's, or everyone's)."""
        self.nbgrader("autograde", ASSIGNMENT, "--force",
                      *([f"--student={student}"] if student else []))

    def autograded(self, student: str, notebook: str) -> dict:
        """The executed, scored notebook of ``student`` as JSON."""
        path = self.root / "autograded" / student / ASSIGNMENT / notebook
        return json.loads(path.read_text())

    def scores(self, student: str) -> dict[str, dict[str, tuple[float, float]]]:
        """``{notebook: {grade_id: (score, max_score)}}`` for every graded cell."""
        from nbgrader.api import Gradebook
        out: dict[str, dict[str, tuple[float, float]]] = {}
        with Gradebook(self.db) as gb:
            sub = gb.find_submission(ASSIGNMENT, student)
            for nb in sub.notebooks:
                out[nb.name] = {g.name: (g.score, g.max_score) for g in nb.grades}
        return out

    def feedback(self, student: str | None = None) -> None:
        """HTML feedback for the autograded submissions (``feedback/``)."""
        self.nbgrader("generate_feedback", ASSIGNMENT, "--force",
                      *([f"--student={student}"] if student else []))


def write_students(out: Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Student versions of ``notebooks`` (default: every chapter) into ``out``."""
    with tempfile.TemporaryDirectory(prefix="dos64lab-course-") as tmp:
        released = Course(tmp).generate(notebooks)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for nb in released:
            shutil.copy(nb, out / nb.name)
            written.append(out / nb.name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nbgrade.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    student = sub.add_parser("student", help="write the student versions")
    student.add_argument("--out", type=Path, default=ROOT / "student")
    student.add_argument("notebooks", nargs="*", type=Path)
    grade = sub.add_parser("autograde", help="grade submitted notebooks")
    grade.add_argument("notebooks", nargs="+", type=Path)
    grade.add_argument("--student", default="learner")
    grade.add_argument("--course", type=Path, help="keep the course folder here")
    args = parser.parse_args(argv)

    if args.command == "student":
        for path in write_students(args.out, args.notebooks or None):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        return 0

    with tempfile.TemporaryDirectory(prefix="dos64lab-course-") as tmp:
        course = Course(args.course or tmp)
        course.generate([NOTEBOOKS / nb.name for nb in args.notebooks])
        course.submit(args.student, args.notebooks)
        course.autograde(args.student)
        total = top = 0.0
        for notebook, grades in sorted(course.scores(args.student).items()):
            for grade_id, (score, max_score) in sorted(grades.items()):
                print(f"{notebook:28} {grade_id:32} {score:g} / {max_score:g}")
                total, top = total + score, top + max_score
        print(f"total {total:g} / {top:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
