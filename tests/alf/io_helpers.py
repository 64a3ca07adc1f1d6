"""Helpers of the ALF io tests: a ONE-layout session builder and ONE-vs-ours comparisons."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import one.alf.exceptions as one_exc
import pandas as pd
import polars as pl

from one_async import exceptions as ours_exc

UUID = 'a976e418-c8b8-4d24-be47-d05120b18341'
N_TRIALS = 6
N_SPIKES = 20
N_CLUSTERS = 4
N_WHEEL = 50

# ONE's exception -> the one we raise for the same input.
ERROR_MAP: dict[type[BaseException], type[BaseException]] = {
    one_exc.ALFObjectNotFound: ours_exc.ALFObjectNotFound,
    AssertionError: ours_exc.ALFMultipleObjectsFound,  # ONE asserts unique keys/objects
    ValueError: ValueError,
    TypeError: TypeError,
    FileNotFoundError: FileNotFoundError,
}


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    """Run ``fn`` and return ('ok', result) or ('error', exception)."""
    try:
        return 'ok', fn()
    except Exception as ex:
        return 'error', ex


def assert_same_error(ours: BaseException, theirs: BaseException) -> None:
    expected = next(v for k, v in ERROR_MAP.items() if isinstance(theirs, k))
    assert isinstance(ours, expected), f'ONE raised {theirs!r}, we raised {ours!r}'
    assert isinstance(ours, ours_exc.OneError), f'untyped error {ours!r}'


def assert_value_equal(ours: Any, theirs: Any, key: str = '') -> None:
    """Compare one attribute: arrays by value and shape, pandas tables against polars ones."""
    if isinstance(theirs, pd.DataFrame):
        assert isinstance(ours, pl.DataFrame), key
        assert ours.columns == [str(c) for c in theirs.columns], key
        for col in ours.columns:
            np.testing.assert_array_equal(ours[col].to_numpy(), theirs[col].to_numpy(), key)
    elif isinstance(theirs, pd.Series):
        assert isinstance(ours, pl.Series), key
        np.testing.assert_array_equal(ours.to_numpy(), theirs.to_numpy(), key)
    elif isinstance(theirs, (pl.DataFrame, pl.Series)):  # ours against ours
        assert type(ours) is type(theirs), key
        assert ours.equals(theirs), key
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), key
        assert ours.shape == theirs.shape, key
        np.testing.assert_array_equal(ours, theirs, key)
    else:
        assert ours == theirs, key


def assert_bunch_equal(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> None:
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        assert_value_equal(ours[key], theirs[key], key)


def assert_same_outcome(
    ours: tuple[str, Any], theirs: tuple[str, Any], compare: Callable[[Any, Any], None]
) -> None:
    assert ours[0] == theirs[0], f'ours: {ours[1]!r}; ONE: {theirs[1]!r}'
    if theirs[0] == 'error':
        assert_same_error(ours[1], theirs[1])
    else:
        compare(ours[1], theirs[1])


def _save(folder: Path, name: str, value: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(value, np.ndarray):
        np.save(path, value)
    elif isinstance(value, pd.DataFrame):
        if path.suffix == '.csv':
            value.to_csv(path, index=False)
        else:
            value.to_parquet(path)
    elif isinstance(value, bytes):
        path.write_bytes(value)
    else:
        path.write_text(json.dumps(value))
    return path


def make_session(session: Path) -> Path:
    """Fill a session folder with a varied set of ALF datasets (deterministic values)."""
    rng = np.random.default_rng(0)
    alf = session / 'alf'
    probe = alf / 'probe00'
    files: dict[Path, dict[str, Any]] = {
        alf: {
            '_ibl_trials.intervals.npy': rng.random((N_TRIALS, 2)),
            '_ibl_trials.choice.npy': rng.integers(-1, 2, N_TRIALS),
            '_ibl_trials.stimOn_times.npy': rng.random(N_TRIALS),
            '_ibl_trials.stimOn_times_bpod.npy': rng.random(N_TRIALS),
            '_ibl_trials.table.pqt': pd.DataFrame(
                {
                    'goCue_times': rng.random(N_TRIALS),
                    'feedback_times': rng.random(N_TRIALS),
                    'contrastLeft': rng.random(N_TRIALS),
                    'phase_0': rng.random(N_TRIALS),
                    'phase_1': rng.random(N_TRIALS),
                }
            ),
            '_iblrig_trials.choice.npy': rng.integers(-1, 2, N_TRIALS),
            '_ibl_wheel.position.npy': rng.random(N_WHEEL),
            '_ibl_wheel.timestamps.npy': np.array([[0, 10.0], [N_WHEEL - 1, 14.9]]),
            '_ibl_wheelMoves.intervals.npy': rng.random((3, 2)),
            '_ibl_wheelMoves.peakAmplitude.npy': rng.random(3),
            'clusters.ccf.npy': rng.random((N_CLUSTERS, 3)),
            'clusters.ccf.metadata.json': {'columns': ['x', 'y', 'z'], 'unit': 'um'},
            'clusters.depths.npy': rng.random(N_CLUSTERS),
            'clusters.metrics.pqt': pd.DataFrame(
                {'amp': rng.random(N_CLUSTERS), 'label': list('abcd')[:N_CLUSTERS]}
            ),
            'probes.description.json': [{'label': 'probe00'}, {'label': 'probe01'}],
            'passiveGabor.table.csv': pd.DataFrame(
                {'start': np.arange(3.0), 'stop': np.arange(3.0) + 0.5, 'contrast': [1, 2, 3]}
            ),
            'inconsistent.a.npy': np.arange(5),
            'inconsistent.b.npy': np.arange(3),
            'camera.times.npy': np.arange(10.0),
            'camera.video.mp4': b'\x00\x00\x00\x18ftypmp42',
        },
        probe: {
            'spikes.times.npy': np.sort(rng.random(N_SPIKES)),
            'spikes.times.metadata.json': {'unit': 's'},
            'spikes.clusters.npy': rng.integers(0, N_CLUSTERS, N_SPIKES),
            'spikes.amps.raw.npy': rng.random(N_SPIKES),
            f'spikes.depths.{UUID}.npy': rng.random(N_SPIKES),
            'spikes.times_ephysClock.npy': rng.random(N_SPIKES),
            '_phy_spikes.subset.npy': rng.integers(0, 2, N_SPIKES),
        },
        probe / '#2021-01-01#': {
            'spikes.times.npy': np.sort(rng.random(N_SPIKES)),
            'spikes.clusters.npy': rng.integers(0, N_CLUSTERS, N_SPIKES),
        },
        probe / '#2022-02-02#': {
            '_ibl_spikes.times.npy': np.sort(rng.random(N_SPIKES)),
        },
        session / 'raw_behavior_data': {
            '_iblrig_taskSettings.raw.json': {'PYBPOD_PROTOCOL': 'x'},
            '_iblrig_encoderEvents.raw.ssv': b'a b\n1 2\n3 4\n',
        },
    }
    for folder, content in files.items():
        for name, value in content.items():
            _save(folder, name, value)
    (alf / 'not_alf.npy').write_bytes(b'')
    (alf / 'README').write_text('not a dataset')
    return session
