"""What every exercise check shares: a failure type, the report, the "not done yet" line.

A check prints one line per case, ``✓`` or ``✗``, then a summary.  In a notebook a long
line is wrapped to the output's width (its continuation indented under the case); in a
terminal or a test it stays one line, to be grepped.  A wrong answer ends in
``ExerciseFailed`` (nbgrader scores the graded cell 0).  An exercise not written yet --
its function still raises nbgrader's ``NotImplementedError`` -- gets one kind line on
stderr instead (nbgrader scores that 0 too) and no exception, so the notebook runs on.
"""

from __future__ import annotations

import os
import sys
import textwrap

#: Columns a report line is wrapped to in a notebook (``DOS64LAB_REPORT_WIDTH`` overrides;
#: 0 never wraps).
WIDTH = 96


class ExerciseFailed(AssertionError):
    """The learner's code gave a wrong answer; the message says which and why."""


def _width() -> int:
    if "DOS64LAB_REPORT_WIDTH" in os.environ:
        try:
            return int(os.environ["DOS64LAB_REPORT_WIDTH"])
        except ValueError:
            return WIDTH
    ipython = sys.modules.get("IPython")
    try:
        shell = ipython.get_ipython() if ipython else None
    except Exception:                       # no IPython shell of any kind
        shell = None
    return WIDTH if shell is not None and "ipykernel" in sys.modules else 0


def line(mark: str, case: str, detail: str = "", width: int | None = None) -> str:
    """``✓ case: detail``, wrapped to ``width`` (continuation lines indented under the case)."""
    text = f"{mark} {case}" + (f": {detail}" if detail else "")
    width = _width() if width is None else width
    if not width or len(text) <= width:
        return text
    return "\n".join(textwrap.wrap(text, width, subsequent_indent="    ",
                                   break_long_words=True, break_on_hyphens=False))


def report(name: str, results: list[tuple[str, bool, str]], width: int | None = None) -> None:
    """Print one line per case; raise ExerciseFailed if any case failed."""
    __tracebackhide__ = True                # IPython and pytest: start the traceback above us
    for case, ok, detail in results:
        print(line("✓" if ok else "✗", case, detail, width))
    wrong = [(case, detail) for case, ok, detail in results if not ok]
    if wrong:
        raise ExerciseFailed(f"{name}: {len(wrong)} of {len(results)} cases wrong:\n"
                             + "\n".join("  " + line("✗", c, d, width) for c, d in wrong))
    print(f"{name}: all {len(results)} cases right.")


def not_done(check: str, function: str) -> None:
    """Say kindly, in one line on stderr, that ``function`` is not written yet; raise nothing.

    nbgrader gives a graded cell that wrote to stderr 0 points, and the notebook
    still runs on to the next cell.
    """
    print(f"{check}: not done yet -- write {function}() above (replace the "
          f"`raise NotImplementedError`), then run this cell again.", file=sys.stderr)


def unwritten(function, *args) -> bool:
    """True if calling ``function(*args)`` raises ``NotImplementedError`` (nbgrader's stub).

    Any other exception, or a wrong answer, is the check's to judge case by case."""
    try:
        function(*args)
    except NotImplementedError:
        return True
    except Exception:
        return False
    return False
