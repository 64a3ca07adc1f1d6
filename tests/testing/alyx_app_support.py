"""Shared data for the local Alyx tests: a real ALF tree on disk and a store describing it.

The tree has two labs, three subjects, five sessions, probes, a revision, npy and parquet files.
:func:`enrich` then gives the records what folders do not hold (task protocols, projects,
trial counts, QC, tags, JSON), varied so that every filter has matches and non-matches.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from one_async.testing.alyx.store import AlyxStore

SESSIONS = (
    # lab, subject, date, number, task protocol, projects, n_trials, n_correct
    ('testlab', 'SWC_001', '2024-01-01', 1, '_iblrig_tasks_trainingChoiceWorld6.4.0',
     ['ibl_neuropixel_brainwide_01'], 400, 300),
    ('testlab', 'SWC_001', '2024-01-02', 1, '_iblrig_tasks_trainingChoiceWorld6.4.0',
     ['ibl_neuropixel_brainwide_01'], 500, 450),
    ('testlab', 'SWC_001', '2024-01-02', 2, '_iblrig_tasks_biasedChoiceWorld6.4.0',
     ['ibl_neuropixel_brainwide_01', 'test_project'], 600, 420),
    ('testlab', 'SWC_002', '2024-01-03', 1, '_iblrig_tasks_ephysChoiceWorld6.4.0',
     ['test_project'], None, None),
    ('cortexlab', 'KS005', '2024-01-04', 1, '_iblrig_tasks_ephysChoiceWorld6.4.0',
     [], 300, 285),
)  # fmt: skip


def session_path(root: Path, lab: str, subject: str, day: str, number: int) -> Path:
    return root / lab / 'Subjects' / subject / day / f'{number:03d}'


def write_alf_tree(root: Path, seed: int = 0) -> Path:
    """Write the test ALF tree under ``root`` (created) and return ``root``."""
    rng = np.random.default_rng(seed)
    for index, (lab, subject, day, number, *_) in enumerate(SESSIONS):
        folder = session_path(root, lab, subject, day, number)
        alf = folder / 'alf'
        alf.mkdir(parents=True)
        n_wheel = 50 + 10 * index
        np.save(alf / '_ibl_wheel.position.npy', rng.normal(size=n_wheel))
        np.save(alf / '_ibl_wheel.timestamps.npy', np.sort(rng.uniform(0, 100, n_wheel)))
        n_trials = 10 + index
        # Written by pandas, as IBL's trials tables are (ONE 2.9 expects schema metadata).
        pd.DataFrame(
            {
                'choice': rng.choice([-1, 1], n_trials),
                'feedbackType': rng.choice([-1, 1], n_trials),
                'contrastLeft': rng.uniform(0, 1, n_trials),
            }
        ).to_parquet(alf / '_ibl_trials.table.pqt')
        np.save(alf / '_ibl_trials.intervals.npy', rng.uniform(0, 100, (n_trials, 2)))
        if subject == 'SWC_001' and number == 2:
            revised = alf / '#2024-02-01#'
            revised.mkdir()
            np.save(revised / '_ibl_trials.intervals.npy', rng.uniform(0, 100, (n_trials, 2)))
        if index >= 2:
            for probe in ('probe00', 'probe01')[: 1 + (index == 3)]:
                folder_probe = alf / probe
                folder_probe.mkdir()
                n_spikes = 200 + 17 * index
                np.save(folder_probe / 'spikes.times.npy', np.sort(rng.uniform(0, 100, n_spikes)))
                np.save(folder_probe / 'spikes.clusters.npy', rng.integers(0, 8, n_spikes))
                np.save(folder_probe / 'clusters.amps.npy', rng.uniform(0, 1, 8))
        (folder / 'raw_behavior_data').mkdir()
        (folder / 'raw_behavior_data' / '_iblrig_taskSettings.raw.json').write_text(
            json.dumps({'SESSION_NUMBER': number})
        )
    return root


def enrich(store: AlyxStore) -> AlyxStore:
    """Fill the fields the folders cannot hold, with values every filter can tell apart."""
    sessions = store.table('sessions')
    for lab, subject, day, number, protocol, projects, n_trials, n_correct in SESSIONS:
        row = sessions.filter(
            (pl.col('subject') == subject)
            & (pl.col('start_time').dt.strftime('%Y-%m-%d') == day)
            & (pl.col('number') == number)
        ).row(0, named=True)
        qc = {'SWC_002': 30, 'KS005': 50}.get(subject, 10 if number == 1 else 0)
        store.update(
            'sessions',
            row['id'],
            {
                'lab': lab,
                'task_protocol': protocol,
                'projects': projects,
                'n_trials': n_trials,
                'n_correct_trials': n_correct,
                'qc': qc,
                'users': ['test_user', 'olivier'] if subject == 'KS005' else ['test_user'],
                'location': f'{lab}_rig1',
                'extended_qc': {'behavior': n_trials is not None, 'score': (n_correct or 0) / 500},
                'json': {'sign_off': subject != 'SWC_002'},
            },
        )
    datasets = store.table('datasets')
    for index, row in enumerate(datasets.iter_rows(named=True)):
        # Every outcome but CRITICAL in turn; CRITICAL for one probe's cluster amplitudes.
        critical = row['name'] == 'clusters.amps.npy' and row['collection'].endswith('probe01')
        changes: dict[str, Any] = {'qc': 50 if critical else (0, 10, 30, 40)[index % 4]}
        if 'spikes' in row['name'] or 'clusters' in row['name']:
            changes['tags'] = ['2024_Q1_release']
        if row['revision']:
            changes['tags'] = ['revised']
        store.update('datasets', row['id'], changes)
    # A dataset whose file is gone from the server, and a personal repository copy.
    target = store.table('datasets').filter(pl.col('name') == '_ibl_trials.intervals.npy')
    gone = target.row(0, named=True)
    record = store.table('file_records').filter(pl.col('dataset') == gone['id']).row(0, named=True)
    store.update('file_records', record['id'], {'exists': False})
    store.insert(
        'data_repositories',
        {'name': 'laptop', 'globus_path': '/data/', 'globus_is_personal': True,
         'hostname': 'laptop'},
    )  # fmt: skip
    store.insert(
        'file_records',
        {'id': store.new_id(), 'dataset': gone['id'], 'data_repository': 'laptop',
         'relative_path': record['relative_path'], 'exists': True},
    )  # fmt: skip
    store.replace('revisions', store.table('revisions').with_columns(
        pl.lit(datetime(2024, 2, 1)).alias('created_datetime'))
    )  # fmt: skip
    return store


def build_store(root: Path, seed: int = 0) -> AlyxStore:
    """The enriched store of the tree under ``root``."""
    return enrich(AlyxStore.from_alf_folder(root, seed=seed))
