"""Profile errors that carry every problem found, not just the first.

``ProfileIssuesError`` is a ``ProfileValidationError`` (so the CLI edge prints it
as one ``Error: …`` line and exits 1) whose message names the file, line, field
and fix of the first problem; ``issues`` holds all of them for ``validate``.
"""

from __future__ import annotations

from collections.abc import Sequence

from gpuplan.errors import ProfileValidationError
from gpuplan.profiles.model import Issue


class ProfileIssuesError(ProfileValidationError):
    """A profile (file or merged result) has errors; ``issues`` lists each one."""

    def __init__(self, subject: str, issues: Sequence[Issue]) -> None:
        errors = [i for i in issues if i.severity == "error"] or list(issues)
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{subject}: {first.problem}{more}", hint=_where(first))
        self.issues = tuple(issues)


def _where(issue: Issue) -> str:
    place = issue.file or "the profile"
    if issue.line is not None:
        place = f"{place}:{issue.line}"
    return f"{place}, field {issue.field}: {issue.fix}"
