"""The policy in force, and its reload from the file."""

from __future__ import annotations

from pathlib import Path

from warden.routing.policy.loading import LoadedPolicy, PolicyError, load_policy_file


class PolicyStore:
    """The policy in force, and the file it is re-read from.

    Readers take ``current`` once per operation, so one report is routed by one policy even
    if a reload lands meanwhile; a reload replaces the whole policy or nothing.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._current = load_policy_file(self.path)

    @property
    def current(self) -> LoadedPolicy:
        return self._current

    def read_candidate(self) -> LoadedPolicy:
        """The file as it is now, validated; ``PolicyError`` if it cannot replace the current
        one. Changed rules under an unchanged version are refused: every case records the
        version that routed it, so a version must name exactly one set of rules."""
        candidate = load_policy_file(self.path)
        if candidate.digest != self._current.digest and candidate.version == self._current.version:
            raise PolicyError.of(str(self.path), [{
                "field": "version", "type": "version_not_bumped",
                "message": f"the rules changed but the version is still "
                           f"{candidate.version!r}; give the new rules a new version"}])
        return candidate

    def install(self, candidate: LoadedPolicy) -> None:
        self._current = candidate
