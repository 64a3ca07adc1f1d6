"""The aggregated progress bar of a transfer job."""

from __future__ import annotations

import io

import pytest

from one_async.transfer.progress import make_progress


def test_the_bar_counts_files_and_draws_its_final_state_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()  # not a terminal: every drawing is a new line
    monkeypatch.setattr('sys.stderr', out)
    bar = make_progress(True, files=3, total_bytes=300)
    for ok in (True, True, False):
        bar.add_bytes(100)
        bar.file_done(ok)
    bar.close()
    lines = [line for line in out.getvalue().replace('\r', '\n').splitlines() if line.strip()]
    final = [line for line in lines if line.startswith('3/3 files, 1 failed')]
    assert len(final) == 1, lines


def test_no_bar_when_not_asked_or_nothing_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr('sys.stderr', out)
    for bar in (make_progress(False, files=3, total_bytes=1), make_progress(True, 0, None)):
        bar.add_bytes(1)
        bar.file_done(True)
        bar.close()
    assert out.getvalue() == ''
