"""One aggregated progress display for a transfer job (files, bytes, rate, ETA).

Shown on stderr with tqdm when it is a terminal (or when asked), silent otherwise.  The engine
reports bytes in pieces of at least a chunk batch and each finished file, so the display costs
little whatever the number of files.
"""

from __future__ import annotations

import sys
from typing import Protocol

__all__ = ['NullProgress', 'Progress', 'TqdmProgress', 'make_progress']


class Progress(Protocol):
    """What the engine tells a progress display."""

    def add_bytes(self, n: int) -> None:
        """``n`` more bytes received."""

    def file_done(self, ok: bool) -> None:
        """One more file finished (placed, skipped or failed)."""

    def close(self) -> None:
        """The job is over."""


class NullProgress:
    """Shows nothing."""

    def add_bytes(self, n: int) -> None:
        """Ignore."""

    def file_done(self, ok: bool) -> None:
        """Ignore."""

    def close(self) -> None:
        """Ignore."""


class TqdmProgress:
    """A tqdm bar in bytes, its label counting files done (and failed) of the total."""

    def __init__(self, files: int, total_bytes: int | None) -> None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped, unused-ignore]

        self._files = files
        self._done = 0
        self._failed = 0
        self._bar = tqdm(
            total=total_bytes,
            unit='B',
            unit_scale=True,
            unit_divisor=1024,
            desc=self._label(),
            file=sys.stderr,
            mininterval=0.2,
            leave=True,
        )

    def _label(self) -> str:
        failed = f', {self._failed} failed' if self._failed else ''
        return f'{self._done}/{self._files} files{failed}'

    def add_bytes(self, n: int) -> None:
        """Advance the bar by ``n`` bytes."""
        self._bar.update(n)

    def file_done(self, ok: bool) -> None:
        """Count one file in the label."""
        self._done += 1
        self._failed += not ok
        self._bar.set_description_str(self._label(), refresh=False)

    def close(self) -> None:
        """Draw the final state once (``close`` draws it) and release the terminal line."""
        self._bar.set_description_str(self._label(), refresh=False)
        self._bar.close()


def make_progress(show: bool | None, files: int, total_bytes: int | None) -> Progress:
    """A display for a job of ``files`` files: shown when ``show``, or (None) when interactive."""
    if show is None:
        show = sys.stderr.isatty()
    if not show or files == 0:
        return NullProgress()
    return TqdmProgress(files, total_bytes)
