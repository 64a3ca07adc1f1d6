"""Alyx tables from the shared synthetic data (:mod:`one_async.testing.generate`).

The generator is the single source of truth of tests, benchmarks and the demo: its sessions,
datasets (UUIDs, sizes, md5s, revisions, QC), insertions and dataset types become the server's
records unchanged, so that the REST answers, the ``cache.zip`` tables and the files written by
:meth:`~one_async.testing.generate.SyntheticData.write_files` agree.  What the generator does not
draw (file record ids, trial counts, dataset type ids...) is drawn here from its seed, so the same
seed always gives the same records.  Everything is vectorised: 10,000 sessions convert in
seconds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from ...cache.uuids import bytes_to_uuid_strings, random_uuid_bytes
from .tables import QC_CODES

if TYPE_CHECKING:
    from ..generate import SyntheticData

__all__ = ['generated_tables']


def _ids(rng: np.random.Generator, n: int) -> pl.Series:
    series: pl.Series = bytes_to_uuid_strings(random_uuid_bytes(rng, n)).cast(pl.String)
    return series


def generated_tables(data: SyntheticData, *, user: str = 'test_user') -> dict[str, pl.DataFrame]:
    """The store tables (see :mod:`.tables`) of generated data.

    Sessions get trial counts (behaviour sessions only) and the dataset files one file record
    each on their lab's server repository (``flatiron_<lab>``), existing as the generator says.
    """
    rng = np.random.default_rng([data.seed, 0xA1])
    sessions = data.sessions
    n = sessions.height
    behaviour = ~sessions['task_protocol'].str.contains('habituation').to_numpy()
    n_trials = np.where(behaviour, rng.integers(300, 900, n), 0)
    performance = rng.uniform(0.45, 0.95, n)
    qc_code = (
        pl.col('qc').cast(pl.String).replace_strict(QC_CODES, default=0, return_dtype=pl.Int64)
    )
    store_sessions = (
        sessions.select(
            pl.col('id'),
            pl.col('subject'),
            pl.col('lab'),
            pl.col('start_time'),
            (pl.col('start_time') + timedelta(hours=1)).alias('end_time'),
            pl.col('number').cast(pl.Int64),
            pl.col('task_protocol'),
            pl.when(pl.col('projects') == '')
            .then(pl.lit([], dtype=pl.List(pl.String)))
            .otherwise(pl.col('projects').str.split(','))
            .alias('projects'),
            pl.lit([user], dtype=pl.List(pl.String)).alias('users'),
            pl.concat_str(pl.col('lab'), pl.lit('_rig1')).alias('location'),
            qc_code.alias('qc'),
            (pl.col('start_time') + timedelta(hours=2)).alias('auto_datetime'),
        )
        .with_columns(
            pl.Series('n_trials', n_trials, dtype=pl.Int64),
            pl.Series('n_correct_trials', np.round(n_trials * performance), dtype=pl.Int64),
            pl.Series('_behaviour', behaviour, dtype=pl.Boolean),
        )
        .with_columns(
            pl.when(pl.col('_behaviour')).then(pl.col(c)).alias(c)
            for c in ('n_trials', 'n_correct_trials')
        )
        .drop('_behaviour')
    )

    probes = data.insertions.select(
        pl.col('eid'), pl.col('name').alias('_probe_name'), pl.col('id').alias('probe_insertion')
    )
    datasets = data.datasets.with_columns(
        pl.when(pl.col('probe').is_not_null())
        .then(pl.format('probe{}', pl.col('probe').cast(pl.String).str.zfill(2)))
        .alias('_probe_name')
    ).join(probes, on=['eid', '_probe_name'], how='left', maintain_order='left')
    store_datasets = datasets.select(
        pl.col('id'),
        pl.col('eid').alias('session'),
        pl.col('name'),
        pl.col('collection'),
        pl.col('revision').fill_null(''),
        pl.col('dataset_type'),
        pl.col('data_format'),
        pl.col('file_size').cast(pl.Int64),
        pl.col('hash'),
        pl.lit('1.0.0').alias('version'),
        qc_code.alias('qc'),
        pl.col('default_revision').fill_null(True).alias('default_dataset'),
        pl.col('probe_insertion'),
        pl.lit(user).alias('created_by'),
        pl.col('created_datetime'),
        pl.col('created_datetime').alias('auto_datetime'),
    )

    relative = pl.concat_str(
        pl.col('session_path').str.replace(r'^[^/]+/Subjects/', ''),
        pl.lit('/'),
        pl.col('rel_path'),
    )
    labs = datasets['session_path'].str.split('/').list.first()
    file_records = pl.DataFrame(
        {
            'id': _ids(rng, datasets.height),
            'dataset': datasets['id'],
            'data_repository': ('flatiron_' + labs).alias('data_repository'),
            'relative_path': datasets.select(relative).to_series(),
            'exists': datasets['exists'],
        }
    )
    repos = sorted(set(sessions['lab']))
    data_repositories = pl.DataFrame(
        {
            'name': [f'flatiron_{lab}' for lab in repos],
            'globus_path': [f'/{lab}/Subjects/' for lab in repos],
            'hostname': ['localhost'] * len(repos),
        },
        schema={'name': pl.String, 'globus_path': pl.String, 'hostname': pl.String},
    )
    first = sessions.group_by('id').agg(pl.col('start_time').first())
    insertions = data.insertions.join(
        first, left_on='eid', right_on='id', how='left', maintain_order='left'
    ).select(
        pl.col('id'),
        pl.col('eid').alias('session'),
        pl.col('name'),
        pl.col('model'),
        pl.col('serial'),
        (pl.col('start_time') + timedelta(hours=3)).alias('auto_datetime'),
    )
    dataset_types = data.dataset_types.with_columns(
        _ids(rng, data.dataset_types.height).alias('id'), pl.lit(user).alias('created_by')
    )
    names = sorted(set(store_datasets['revision'].to_list()) - {''})
    revisions = pl.DataFrame(
        {'id': _ids(rng, len(names)), 'name': names}, schema={'id': pl.String, 'name': pl.String}
    ).with_columns(
        pl.col('name').str.to_datetime('%Y-%m-%d', strict=False).alias('created_datetime')
    )
    return {
        'sessions': store_sessions,
        'datasets': store_datasets,
        'file_records': file_records,
        'data_repositories': data_repositories,
        'insertions': insertions,
        'dataset_types': dataset_types,
        'revisions': revisions,
    }
