"""nbgrader on the odd chapters (01, 03, ...): see nbgrader_cases.py."""

import pytest

from classroom.nbgrader_cases import check_chapter, generate, half


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return generate(tmp_path_factory, 1)


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", half(1), ids=lambda p: p.stem)
def test_student_version_runs_and_scores_0_solution_scores_full(course, notebook):
    check_chapter(course, notebook)
