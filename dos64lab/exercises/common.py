"""What every exercise check shares: a failure type and a report."""


class ExerciseFailed(AssertionError):
    """The learner's code gave a wrong answer; the message says which and why."""


def report(name: str, results: list[tuple[str, bool, str]]) -> None:
    """Print one line per case; raise ExerciseFailed if any case failed."""
    for case, ok, detail in results:
        print(f"{'✓' if ok else '✗'} {case}: {detail}")
    wrong = [f"{case}: {detail}" for case, ok, detail in results if not ok]
    if wrong:
        raise ExerciseFailed(f"{name}: {len(wrong)} of {len(results)} cases wrong:\n  "
                             + "\n  ".join(wrong))
    print(f"{name}: all {len(results)} cases right.")
