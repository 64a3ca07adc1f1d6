"""Deterministic synthetic IBL-scale data: the single source of truth of tests and benchmarks.

:func:`generate` draws labs, subjects, sessions, datasets, probe insertions and dataset types
that look like the International Brain Laboratory's (protocols, collections, revisions, QC, file
sizes), vectorised with numpy and polars: 10,000 sessions (about 1.2 million datasets) take a few
seconds.  The same seed always gives the same data.

The result, :class:`SyntheticData`, is what every consumer starts from:

* the cache tests and benchmarks write it as cache tables in any layout
  (:meth:`SyntheticData.write_tables`);
* the local Alyx server serves its records and the cache tables built from them;
* :meth:`SyntheticData.write_files` materialises a (small) data set as a real ALF tree whose
  files are valid for their extension (``.npy`` arrays of consistent length per object, parquet
  and csv tables, ``.jsonable`` ...), and returns the data with the sizes and md5 hashes of the
  written files, so that tables and files agree.

Tables (polars DataFrames)
--------------------------
``labs``: ``name``, ``institution``.
``subjects``: ``id``, ``nickname``, ``lab``, ``sex``, ``birth_date``.
``sessions``: ``id``, ``lab``, ``subject``, ``date``, ``number``, ``task_protocol``,
``projects`` (comma-joined), ``start_time``, ``n_probes``, ``qc``, ``session_path``.
``datasets``: ``id``, ``eid``, ``session_path``, ``collection``, ``revision``, ``name``,
``rel_path``, ``dataset_type``, ``data_format``, ``file_size``, ``hash``, ``exists``, ``qc``,
``default_revision``, ``created_datetime``, ``template`` (row of :attr:`SyntheticData.templates`
it was made from).
``insertions``: ``id`` (pid), ``eid``, ``name`` (``probe00``...), ``model``, ``serial``.
``dataset_types``: ``name``, ``description``, ``filename_pattern``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
import wave
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from one_async.cache.layouts import Layout, write_tables
from one_async.cache.parquet import pandas_metadata, to_arrow
from one_async.cache.schema import DATASETS_COLUMNS, QC_DTYPE, QC_LEVELS, SESSIONS_COLUMNS
from one_async.cache.uuids import bytes_to_uuid_strings, random_uuid_bytes
from one_async.exceptions import InvalidArgument

__all__ = ['KINDS', 'TEMPLATES', 'DatasetTemplate', 'SyntheticData', 'generate']

# --- the catalogue ----------------------------------------------------------------------------

KINDS: Final = ('habituation', 'training', 'biased', 'ephys')
"""Session kinds, in the order a subject goes through them."""

_PROTOCOLS: Final = {
    'habituation': '_iblrig_tasks_habituationChoiceWorld',
    'training': '_iblrig_tasks_trainingChoiceWorld',
    'biased': '_iblrig_tasks_biasedChoiceWorld',
    'ephys': '_iblrig_tasks_ephysChoiceWorld',
}
_RIG_VERSIONS: Final = ('6.2.5', '6.4.2', '6.6.2', '7.2.3', '8.12.4')

_LABS: Final = (
    ('cortexlab', 'University College London', 'KS{:03d}'),
    ('churchlandlab', 'Cold Spring Harbor Laboratory', 'CSHL{:03d}'),
    ('danlab', 'University of California, Berkeley', 'DY_{:03d}'),
    ('hoferlab', 'Sainsbury Wellcome Centre', 'SWC_{:03d}'),
    ('mainenlab', 'Champalimaud Centre for the Unknown', 'ZFM-{:05d}'),
    ('mrsicflogellab', 'Sainsbury Wellcome Centre', 'SWC_{:03d}'),
    ('wittenlab', 'Princeton University', 'ibl_witten_{:02d}'),
    ('zadorlab', 'Cold Spring Harbor Laboratory', 'CSH_ZAD_{:03d}'),
    ('angelakilab', 'New York University', 'NYU-{:02d}'),
    ('churchlandlab_ucla', 'University of California, Los Angeles', 'UCLA{:03d}'),
    ('steinmetzlab', 'University of Washington', 'NR_{:04d}'),
)
# Subject number offsets so that labs sharing a prefix (the two SWC labs) never collide.
_SUBJECT_OFFSET: Final = {'mrsicflogellab': 500}

_PROJECTS: Final = {
    'habituation': ('ibl_training',),
    'training': ('ibl_training', 'ibl_behaviour_pilot'),
    'biased': ('ibl_behaviour_pilot', 'ibl_training'),
    'ephys': ('ibl_neuropixel_brainwide_01', 'ibl_neuropixel_brainwide_01'),
}
_EXTRA_PROJECTS: Final = ('brainwide_map', 'churchland_learning', 'witten_dopamine')

_QC_GROUP_PROBABILITIES: Final = {
    # NOT_SET, PASS, WARNING, FAIL, CRITICAL
    'task': (0.25, 0.45, 0.15, 0.1, 0.05),
    'wheel': (0.4, 0.4, 0.1, 0.07, 0.03),
    'video': (0.3, 0.35, 0.2, 0.1, 0.05),
    'passive': (0.5, 0.3, 0.1, 0.07, 0.03),
    'spikesort': (0.6, 0.3, 0.06, 0.03, 0.01),
}


@dataclass(frozen=True)
class DatasetTemplate:
    """One kind of dataset file, as it appears in sessions of some kinds.

    Attributes
    ----------
    collection, name
        Where it goes; ``{probe}`` and ``{imec}`` are filled per probe.
    dataset_type
        Alyx dataset type name.
    kinds
        Session kinds that have it.
    per_probe
        One file per probe insertion.
    revisable
        Re-extracted in revised sessions (gets ``#revision#`` copies).
    qc_group
        QC outcomes are drawn per session and group (None: always NOT_SET).
    length
        Name of the object length it has as many rows as (files of one object agree), or None.
    row_bytes
        Bytes per row at full scale (size = header + length * row_bytes).
    size
        (median bytes, log-normal sigma) for files without a length.
    content
        File format written: npy, pqt, csv, jsonable, json, ssv, mp4, bin, meta, ch, wav, zip.
    dtype, columns
        For npy: element type and number of columns (1: a vector); for tables: column names.
    legacy_sorting
        Part of the older spike sorting output (``alf/probeXX``), present in some sessions.
    """

    collection: str
    name: str
    dataset_type: str
    kinds: tuple[str, ...]
    per_probe: bool = False
    revisable: bool = False
    qc_group: str | None = None
    length: str | None = None
    row_bytes: int = 8
    size: tuple[float, float] = (10_000.0, 0.3)
    content: str = 'npy'
    dtype: str = 'f8'
    columns: tuple[str, ...] | int = 1
    legacy_sorting: bool = False


_ALL = KINDS
_TRAINED = ('training', 'biased', 'ephys')
_BIASED = ('biased', 'ephys')
_EPHYS = ('ephys',)

_TRIALS_TABLE = (
    'contrastLeft', 'contrastRight', 'choice', 'feedbackType', 'rewardVolume',
    'probabilityLeft', 'stimOn_times', 'goCue_times', 'response_times', 'feedback_times',
    'firstMovement_times',
)  # fmt: skip
_DLC = ('nose_tip_x', 'nose_tip_y', 'nose_tip_likelihood', 'paw_l_x', 'paw_l_y',
        'paw_l_likelihood', 'paw_r_x', 'paw_r_y', 'paw_r_likelihood')  # fmt: skip
_METRICS = ('cluster_id', 'amp_median', 'firing_rate', 'presence_ratio', 'label')


def _t(
    collection: str, name: str, dataset_type: str, kinds: tuple[str, ...], **kw: Any
) -> DatasetTemplate:
    return DatasetTemplate(collection, name, dataset_type, kinds, **kw)


def _sorting(collection: str, legacy: bool) -> list[DatasetTemplate]:
    """Spike sorting output of one probe (pykilosort, or the older ks2 output)."""
    common: dict[str, Any] = {
        'per_probe': True,
        'revisable': not legacy,
        'qc_group': 'spikesort',
        'legacy_sorting': legacy,
    }
    out = [
        _t(collection, 'spikes.times.npy', 'spikes.times', _EPHYS, length='spikes', **common),
        _t(collection, 'spikes.clusters.npy', 'spikes.clusters', _EPHYS, length='spikes',
           dtype='u4', row_bytes=4, **common),
        _t(collection, 'spikes.amps.npy', 'spikes.amps', _EPHYS, length='spikes', **common),
        _t(collection, 'spikes.depths.npy', 'spikes.depths', _EPHYS, length='spikes',
           dtype='f4', row_bytes=4, **common),
        _t(collection, 'clusters.channels.npy', 'clusters.channels', _EPHYS, length='clusters',
           dtype='i8', **common),
        _t(collection, 'clusters.depths.npy', 'clusters.depths', _EPHYS, length='clusters',
           **common),
        _t(collection, 'clusters.metrics.pqt', 'clusters.metrics', _EPHYS, length='clusters',
           content='pqt', columns=_METRICS, row_bytes=40, **common),
        _t(collection, 'clusters.uuids.csv', 'clusters.uuids', _EPHYS, length='clusters',
           content='csv', columns=('uuids',), row_bytes=37, **common),
        _t(collection, 'channels.localCoordinates.npy', 'channels.localCoordinates', _EPHYS,
           length='channels', columns=2, row_bytes=16, **common),
        _t(collection, 'channels.rawInd.npy', 'channels.rawInd', _EPHYS, length='channels',
           dtype='i8', **common),
        _t(collection, 'channels.brainLocationIds_ccf_2017.npy',
           'channels.brainLocationIds_ccf_2017', _EPHYS, length='channels', dtype='i8', **common),
    ]  # fmt: skip
    if legacy:
        return out
    return [
        *out,
        _t(collection, 'spikes.samples.npy', 'spikes.samples', _EPHYS, length='spikes',
           dtype='i8', **common),
        _t(collection, 'spikes.templates.npy', 'spikes.templates', _EPHYS, length='spikes',
           dtype='u4', row_bytes=4, **common),
        _t(collection, 'clusters.amps.npy', 'clusters.amps', _EPHYS, length='clusters', **common),
        _t(collection, 'clusters.peakToTrough.npy', 'clusters.peakToTrough', _EPHYS,
           length='clusters', **common),
        _t(collection, 'clusters.waveforms.npy', 'clusters.waveforms', _EPHYS, length='clusters',
           dtype='f4', columns=32, row_bytes=82 * 32 * 4, **common),
        _t(collection, 'clusters.waveformsChannels.npy', 'clusters.waveformsChannels', _EPHYS,
           length='clusters', dtype='i8', columns=32, row_bytes=32 * 8, **common),
        _t(collection, 'clusters.mlapdv.npy', 'clusters.mlapdv', _EPHYS, length='clusters',
           columns=3, row_bytes=24, **common),
        _t(collection, 'clusters.brainLocationIds_ccf_2017.npy',
           'clusters.brainLocationIds_ccf_2017', _EPHYS, length='clusters', dtype='i8',
           **common),
        _t(collection, 'channels.mlapdv.npy', 'channels.mlapdv', _EPHYS, length='channels',
           columns=3, row_bytes=24, **common),
        _t(collection, 'templates.waveforms.npy', 'templates.waveforms', _EPHYS,
           length='templates', dtype='f4', columns=32, row_bytes=82 * 32 * 4, **common),
        _t(collection, 'templates.waveformsChannels.npy', 'templates.waveformsChannels', _EPHYS,
           length='templates', dtype='i8', columns=32, row_bytes=32 * 8, **common),
        _t(collection, 'templates.amps.npy', 'templates.amps', _EPHYS, length='templates',
           **common),
        _t(collection, 'drift.times.npy', 'drift.times', _EPHYS, length='drift', **common),
        _t(collection, 'drift.um.npy', 'drift.um', _EPHYS, length='drift', **common),
        _t(collection, 'drift_depths.um.npy', 'drift_depths.um', _EPHYS, length='drift_depths',
           **common),
        _t(collection, 'passingSpikes.table.pqt', 'passingSpikes.table', _EPHYS,
           length='passing_spikes', content='pqt', columns=('times', 'clusters', 'amps'),
           row_bytes=20, **common),
    ]  # fmt: skip


def _catalogue() -> tuple[DatasetTemplate, ...]:
    raw_b, raw_v, raw_e = 'raw_behavior_data', 'raw_video_data', 'raw_ephys_data'
    task, wheel, video, passive = (
        {'qc_group': 'task', 'revisable': True},
        {'qc_group': 'wheel'},
        {'qc_group': 'video'},
        {'qc_group': 'passive'},
    )
    out = [
        # raw behaviour
        _t(raw_b, '_iblrig_taskData.raw.jsonable', '_iblrig_taskData.raw', _ALL,
           length='trials', content='jsonable', row_bytes=1500),
        _t(raw_b, '_iblrig_taskSettings.raw.json', '_iblrig_taskSettings.raw', _ALL,
           content='json', size=(9_000, 0.1)),
        _t(raw_b, '_iblrig_encoderEvents.raw.ssv', '_iblrig_encoderEvents.raw', _ALL,
           length='encoder_events', content='ssv', row_bytes=40, columns=4),
        _t(raw_b, '_iblrig_encoderPositions.raw.ssv', '_iblrig_encoderPositions.raw', _ALL,
           length='encoder_positions', content='ssv', row_bytes=24, columns=2),
        _t(raw_b, '_iblrig_encoderTrialInfo.raw.ssv', '_iblrig_encoderTrialInfo.raw', _ALL,
           length='trials', content='ssv', row_bytes=60, columns=6),
        _t(raw_b, '_iblrig_ambientSensorData.raw.jsonable', '_iblrig_ambientSensorData.raw',
           _ALL, length='trials', content='jsonable', row_bytes=120),
        _t(raw_b, '_iblrig_stimPositionScreen.raw.csv', '_iblrig_stimPositionScreen.raw', _ALL,
           length='stim_positions', content='csv', columns=('position', 'contrast', 'time'),
           row_bytes=30),
        _t(raw_b, '_iblrig_syncSquareUpdate.raw.csv', '_iblrig_syncSquareUpdate.raw', _ALL,
           length='stim_positions', content='csv', columns=('state', 'time'), row_bytes=20),
        _t(raw_b, '_iblrig_codeFiles.raw.zip', '_iblrig_codeFiles.raw', _ALL, content='zip',
           size=(120_000, 0.2)),
        _t(raw_b, '_iblrig_micData.raw.wav', '_iblrig_micData.raw', _TRAINED, content='wav',
           size=(5e7, 0.4)),
        # trials
        _t('alf', '_ibl_trials.table.pqt', 'trials.table', _TRAINED, length='trials',
           content='pqt', columns=_TRIALS_TABLE, row_bytes=90, **task),
        _t('alf', '_ibl_trials.intervals.npy', 'trials.intervals', _TRAINED, length='trials',
           columns=2, row_bytes=16, **task),
        _t('alf', '_ibl_trials.goCueTrigger_times.npy', 'trials.goCueTrigger_times', _TRAINED,
           length='trials', **task),
        _t('alf', '_ibl_trials.stimOff_times.npy', 'trials.stimOff_times', _TRAINED,
           length='trials', **task),
        _t('alf', '_ibl_trials.stimOffTrigger_times.npy', 'trials.stimOffTrigger_times',
           _TRAINED, length='trials', **task),
        _t('alf', '_ibl_trials.stimOnTrigger_times.npy', 'trials.stimOnTrigger_times',
           _TRAINED, length='trials', **task),
        _t('alf', '_ibl_trials.quiescencePeriod.npy', 'trials.quiescencePeriod', _TRAINED,
           length='trials', **task),
        _t('alf', '_ibl_trials.included.npy', 'trials.included', _TRAINED, length='trials',
           dtype='bool', row_bytes=1, **task),
        _t('alf', '_ibl_trials.intervals_bpod.npy', 'trials.intervals_bpod', _TRAINED,
           length='trials', columns=2, row_bytes=16, **task),
        # wheel
        _t('alf', '_ibl_wheel.position.npy', 'wheel.position', _TRAINED, length='wheel',
           **wheel),
        _t('alf', '_ibl_wheel.timestamps.npy', 'wheel.timestamps', _TRAINED, length='wheel',
           **wheel),
        _t('alf', '_ibl_wheelMoves.intervals.npy', 'wheelMoves.intervals', _TRAINED,
           length='wheel_moves', columns=2, row_bytes=16, **wheel),
        _t('alf', '_ibl_wheelMoves.peakAmplitude.npy', 'wheelMoves.peakAmplitude', _TRAINED,
           length='wheel_moves', **wheel),
        _t('alf', '_ibl_wheelMoves.peakVelocity_times.npy', 'wheelMoves.peakVelocity_times',
           _TRAINED, length='wheel_moves', **wheel),
        _t('alf', 'licks.times.npy', 'licks.times', _BIASED, length='licks'),
        # passive
        _t('alf', '_ibl_passivePeriods.intervalsTable.csv', 'passivePeriods.intervalsTable',
           _EPHYS, length='passive_periods', content='csv',
           columns=('start', 'stop', 'spontaneousActivity'), row_bytes=60, **passive),
        _t('alf', '_ibl_passiveGabor.table.csv', 'passiveGabor.table', _EPHYS,
           length='gabor', content='csv', columns=('start', 'stop', 'position', 'contrast'),
           row_bytes=50, **passive),
        _t('alf', '_ibl_passiveRFM.times.npy', 'passiveRFM.times', _EPHYS, length='rfm',
           **passive),
        _t('alf', '_ibl_passiveStims.table.csv', 'passiveStims.table', _EPHYS,
           length='stims', content='csv', columns=('valveOn', 'valveOff', 'toneOn', 'toneOff'),
           row_bytes=60, **passive),
        _t('raw_passive_data', '_iblrig_RFMapStim.raw.bin', '_iblrig_RFMapStim.raw', _EPHYS,
           content='bin', size=(6e6, 0.1)),
        _t('raw_passive_data', '_iblrig_taskSettings.raw.json', '_iblrig_taskSettings.raw',
           _EPHYS, content='json', size=(9_000, 0.1)),
        # ephys, session level
        _t(raw_e, '_spikeglx_sync.channels.npy', '_spikeglx_sync.channels', _EPHYS,
           length='sync'),
        _t(raw_e, '_spikeglx_sync.polarities.npy', '_spikeglx_sync.polarities', _EPHYS,
           length='sync'),
        _t(raw_e, '_spikeglx_sync.times.npy', '_spikeglx_sync.times', _EPHYS, length='sync'),
        _t(raw_e, '_spikeglx_ephysData_g0_t0.nidq.cbin', 'ephysData.raw.nidq', _EPHYS,
           content='bin', size=(1.5e8, 0.3)),
        _t(raw_e, '_spikeglx_ephysData_g0_t0.nidq.meta', 'ephysData.raw.meta', _EPHYS,
           content='meta', size=(6_000, 0.05)),
        _t(raw_e, '_spikeglx_ephysData_g0_t0.nidq.ch', 'ephysData.raw.ch', _EPHYS,
           content='ch', size=(600, 0.1)),
        _t(raw_e, '_spikeglx_ephysData_g0_t0.nidq.wiring.json', 'ephysData.raw.wiring',
           _EPHYS, content='json', size=(500, 0.05)),
    ]  # fmt: skip
    for camera, kinds, rate in (
        ('left', _TRAINED, 'left_frames'),
        ('right', _BIASED, 'right_frames'),
        ('body', _BIASED, 'body_frames'),
    ):
        median = {'left': 4.5e9, 'right': 9e9, 'body': 1.5e9}[camera]
        out += [
            _t(raw_v, f'_iblrig_{camera}Camera.raw.mp4', '_iblrig_Camera.raw', kinds,
               content='mp4', size=(median, 0.3)),
            _t(raw_v, f'_iblrig_{camera}Camera.frameData.bin', '_iblrig_Camera.frameData',
               kinds, length=rate, content='bin', row_bytes=32),
        ]  # fmt: skip
        if camera == 'left' or kinds == _BIASED:
            out += [
                _t('alf', f'_ibl_{camera}Camera.times.npy', 'camera.times', _BIASED,
                   length=rate, **video),
                _t('alf', f'_ibl_{camera}Camera.dlc.pqt', 'camera.dlc', _BIASED, length=rate,
                   content='pqt', columns=_DLC, row_bytes=72, **video),
                _t('alf', f'{camera}Camera.ROIMotionEnergy.npy', 'camera.ROIMotionEnergy',
                   _BIASED, length=rate, **video),
                _t('alf', f'{camera}ROIMotionEnergy.position.npy', 'ROIMotionEnergy.position',
                   _BIASED, length='roi', columns=4, row_bytes=32, **video),
            ]  # fmt: skip
    out.append(
        _t('alf', '_ibl_leftCamera.features.pqt', 'camera.features', _BIASED,
           length='left_frames', content='pqt', columns=('pupilDiameter_raw',
                                                         'pupilDiameter_smooth'),
           row_bytes=16, **video)
    )  # fmt: skip
    probe, ephys = '{probe}', 'raw_ephys_data/{probe}'
    per_probe: dict[str, Any] = {'per_probe': True}
    for band, median in (('ap', 3e10), ('lf', 2e9)):
        out += [
            _t(ephys, f'_spikeglx_ephysData_g0_t0.{{imec}}.{band}.cbin',
               f'ephysData.raw.{band}', _EPHYS, content='bin', size=(median, 0.3), **per_probe),
            _t(ephys, f'_spikeglx_ephysData_g0_t0.{{imec}}.{band}.meta', 'ephysData.raw.meta',
               _EPHYS, content='meta', size=(7_000, 0.05), **per_probe),
            _t(ephys, f'_spikeglx_ephysData_g0_t0.{{imec}}.{band}.ch', 'ephysData.raw.ch',
               _EPHYS, content='ch', size=(900, 0.1), **per_probe),
        ]  # fmt: skip
    out += [
        _t(
            ephys,
            f'_spikeglx_sync.{name}.{probe}.npy',
            f'_spikeglx_sync.{name}',
            _EPHYS,
            length='probe_sync',
            **per_probe,
        )
        for name in ('channels', 'polarities', 'times')
    ]
    out += [
        _t(ephys, '_iblqc_ephysChannels.apRMS.npy', '_iblqc_ephysChannels.apRMS', _EPHYS,
           length='channels', columns=2, row_bytes=16, **per_probe),
        _t(ephys, '_iblqc_ephysTimeRmsAP.rms.npy', '_iblqc_ephysTimeRmsAP.rms', _EPHYS,
           length='rms_times', columns=384, row_bytes=384 * 4, dtype='f4', **per_probe),
        _t(ephys, '_iblqc_ephysTimeRmsAP.timestamps.npy', '_iblqc_ephysTimeRmsAP.timestamps',
           _EPHYS, length='rms_times', **per_probe),
        _t(f'alf/{probe}', 'electrodeSites.brainLocationIds_ccf_2017.npy',
           'electrodeSites.brainLocationIds_ccf_2017', _EPHYS, length='sites', dtype='i8',
           **per_probe),
        _t(f'alf/{probe}', 'electrodeSites.localCoordinates.npy',
           'electrodeSites.localCoordinates', _EPHYS, length='sites', columns=2, row_bytes=16,
           **per_probe),
        _t(f'alf/{probe}', 'electrodeSites.mlapdv.npy', 'electrodeSites.mlapdv', _EPHYS,
           length='sites', columns=3, row_bytes=24, **per_probe),
    ]  # fmt: skip
    out += _sorting(f'alf/{probe}/pykilosort', legacy=False)
    out += _sorting(f'alf/{probe}', legacy=True)
    return tuple(out)


TEMPLATES: Final = _catalogue()
"""Every dataset template (per-probe ones once, with ``{probe}``/``{imec}`` placeholders)."""

# Object lengths at full scale: (log-normal median, sigma); files of one object share a draw.
_LENGTHS: Final = {
    'trials': (650, 0.3), 'encoder_events': (3_000, 0.3), 'encoder_positions': (150_000, 0.4),
    'stim_positions': (5_000, 0.3), 'wheel': (400_000, 0.4), 'wheel_moves': (1_500, 0.3),
    'licks': (3_000, 0.5), 'passive_periods': (1, 0.0), 'gabor': (300, 0.0), 'rfm': (6_000, 0.1),
    'stims': (40, 0.0), 'sync': (100_000, 0.3), 'left_frames': (216_000, 0.2),
    'right_frames': (540_000, 0.2), 'body_frames': (108_000, 0.2), 'roi': (1, 0.0),
    'probe_sync': (10_000, 0.3), 'rms_times': (400, 0.2), 'sites': (384, 0.0),
    'spikes': (15_000_000, 0.6), 'clusters': (700, 0.4), 'channels': (384, 0.0),
    'templates': (500, 0.3), 'drift': (300, 0.2), 'drift_depths': (20, 0.0),
    'passing_spikes': (8_000_000, 0.6),
}  # fmt: skip
# Object lengths of the small files write_files produces: (low, high) inclusive.
_SMALL_LENGTHS: Final = {
    'trials': (12, 40), 'encoder_events': (20, 60), 'encoder_positions': (30, 90),
    'stim_positions': (10, 30), 'wheel': (100, 400), 'wheel_moves': (5, 20), 'licks': (10, 50),
    'passive_periods': (1, 1), 'gabor': (10, 10), 'rfm': (20, 40), 'stims': (8, 8),
    'sync': (50, 150), 'left_frames': (60, 120), 'right_frames': (150, 300),
    'body_frames': (30, 60), 'roi': (1, 1), 'probe_sync': (20, 60), 'rms_times': (4, 8),
    'sites': (16, 16), 'spikes': (300, 1500), 'clusters': (8, 30), 'channels': (16, 16),
    'templates': (8, 30), 'drift': (5, 15), 'drift_depths': (4, 4), 'passing_spikes': (100, 500),
}  # fmt: skip
_LENGTH_KEYS: Final = tuple(_LENGTHS)
_NPY_HEADER: Final = 128

_KIND_WEIGHTS: Final = {'habituation': 0.03, 'training': 0.12, 'biased': 0.13, 'ephys': 0.72}


# --- result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticData:
    """Generated tables (see the module docstring) and the seed they came from."""

    seed: int
    labs: pl.DataFrame
    subjects: pl.DataFrame
    sessions: pl.DataFrame
    datasets: pl.DataFrame
    insertions: pl.DataFrame
    dataset_types: pl.DataFrame
    templates: pl.DataFrame

    def cache_sessions(self) -> pl.DataFrame:
        """The sessions as a canonical cache table (sorted by ``id``)."""
        return self.sessions.select(list(SESSIONS_COLUMNS)).sort('id')

    def cache_datasets(self, *, session_path: bool = False) -> pl.DataFrame:
        """The datasets as a canonical cache table (sorted by ``eid``, ``id``).

        With ``session_path`` the column of the ONE 2.x layouts is included.
        """
        columns = [*DATASETS_COLUMNS, *(['session_path'] if session_path else [])]
        return self.datasets.select(columns).sort('eid', 'id')

    def write_tables(
        self,
        tables_dir: str | Path,
        *,
        layout: Layout = 'alyx3',
        origin: str = 'one_async_test',
        date_created: datetime | None = None,
        meta: Mapping[str, Any] | None = None,
        cache_info: bool = True,
    ) -> dict[str, Path]:
        """Write ``sessions.pqt``/``datasets.pqt`` (and ``cache_info.json``) in a layout.

        See :func:`one_async.cache.layouts.write_tables`; ``tables_dir`` is created if needed.
        """
        tables_dir = Path(tables_dir)
        tables_dir.mkdir(parents=True, exist_ok=True)
        return write_tables(
            tables_dir,
            self.cache_sessions(),
            self.cache_datasets(session_path=True),
            layout=layout,
            origin=origin,
            date_created=date_created,
            meta=meta,
            cache_info=cache_info,
        )

    def subset(self, eids: Iterable[str]) -> SyntheticData:
        """The data of some sessions only (with their subjects, labs and insertions)."""
        wanted = pl.Series('id', list(eids), dtype=pl.String)
        sessions = self.sessions.filter(pl.col('id').is_in(wanted.implode()))
        subjects = self.subjects.filter(pl.col('nickname').is_in(sessions['subject'].implode()))
        return replace(
            self,
            sessions=sessions,
            subjects=subjects,
            labs=self.labs.filter(pl.col('name').is_in(subjects['lab'].implode())),
            datasets=self.datasets.filter(pl.col('eid').is_in(wanted.implode())),
            insertions=self.insertions.filter(pl.col('eid').is_in(wanted.implode())),
        )

    def head(self, n_sessions: int) -> SyntheticData:
        """The data of the first ``n_sessions`` sessions."""
        return self.subset(self.sessions['id'].head(n_sessions).to_list())

    def write_files(
        self, root: str | Path, *, raw_bytes: int = 16_384, eids: Iterable[str] | None = None
    ) -> SyntheticData:
        """Write the datasets that exist as small valid files under ``root``.

        Files go to ``root/<session_path>/<rel_path>``.  Files of one object in one revision
        have the same number of rows, so that ``load_object`` works; binary raw data (videos,
        ``.cbin``) are ``raw_bytes`` long.  Contents depend only on the seed and the session.

        Parameters
        ----------
        root
            Folder to write into (created if needed).
        raw_bytes
            Size of the raw binary files.
        eids
            Sessions to write; all by default.

        Returns
        -------
        SyntheticData
            The data of the written sessions, with ``file_size`` and ``hash`` of the written
            files (datasets that do not exist keep their drawn values).
        """
        data = self if eids is None else self.subset(eids)
        root = Path(root)
        index = {e: i for i, e in enumerate(self.sessions['id'].to_list())}
        written: list[pl.DataFrame] = []
        for eid, rows in data.datasets.group_by('eid', maintain_order=True):
            written.append(self._write_session(root, str(eid[0]), index[str(eid[0])], rows,
                                               raw_bytes))  # fmt: skip
        if not written:
            return data
        sizes = pl.concat(written)
        datasets = (
            data.datasets.join(sizes, on='id', how='left', maintain_order='left')
            .with_columns(
                pl.col('_size').fill_null(pl.col('file_size')).alias('file_size'),
                pl.col('_hash').fill_null(pl.col('hash')).alias('hash'),
            )
            .drop('_size', '_hash')
        )
        return replace(data, datasets=datasets)

    def _write_session(
        self, root: Path, eid: str, index: int, rows: pl.DataFrame, raw_bytes: int
    ) -> pl.DataFrame:
        rng = np.random.default_rng([self.seed, index])
        lengths = {k: int(rng.integers(lo, hi + 1)) for k, (lo, hi) in _SMALL_LENGTHS.items()}
        templates = self.templates
        ids, sizes, hashes = [], [], []
        for row in rows.filter(pl.col('exists')).iter_rows(named=True):
            template = templates.row(row['template'], named=True)
            length = _object_length(lengths, template['length'], row['revision'], row['probe'])
            payload = _content(template, length, lengths, rng, raw_bytes, row)
            path = root / row['session_path'] / row['rel_path']
            _write_bytes(path, payload)
            ids.append(row['id'])
            sizes.append(len(payload))
            hashes.append(hashlib.md5(payload).hexdigest())
        return pl.DataFrame(
            {'id': ids, '_size': sizes, '_hash': hashes},
            schema={'id': pl.String, '_size': pl.UInt64, '_hash': pl.String},
        )


def _object_length(
    lengths: Mapping[str, int], key: str | None, revision: str, probe: int | None
) -> int:
    """Rows of an object in one session: shared by its files, varied per revision and probe."""
    if key is None:
        return 0
    base = lengths[key]
    if key in ('channels', 'sites', 'roi', 'passive_periods', 'stims', 'gabor', 'drift_depths'):
        return base
    salt = (len(revision) * 7 + sum(map(ord, revision)) + 3 * (probe or 0)) % 5
    return base + salt


def _write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{uuid.uuid4().hex}.part')
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --- file contents ----------------------------------------------------------------------------

_ZIP_TIME: Final = (2020, 1, 1, 0, 0, 0)


def _vector(
    name: str, dtype: str, length: int, lengths: Mapping[str, int], rng: np.random.Generator
) -> npt.NDArray[Any]:
    attribute = name.split('.')[1] if name.count('.') >= 2 else name
    if dtype == 'bool':
        return rng.random(length) < 0.9
    if dtype[0] in 'iu':
        referenced = {'clusters': 'clusters', 'templates': 'templates', 'channels': 'channels',
                      'rawInd': 'channels', 'waveformsChannels': 'channels'}  # fmt: skip
        high = lengths.get(referenced.get(attribute, ''), 1000)
        return rng.integers(0, max(high, 1), size=length).astype(dtype)
    if attribute.endswith(('times', 'timestamps')) or 'times_' in attribute:
        return np.cumsum(rng.exponential(0.5, size=length)).astype(dtype)
    return rng.normal(size=length).astype(dtype)


def _npy(template: Mapping[str, Any], length: int, lengths: Mapping[str, int],
         rng: np.random.Generator) -> bytes:  # fmt: skip
    columns = template['n_columns']
    dtype = template['dtype']
    name = template['name']
    if name.endswith(('intervals.npy', 'intervals_bpod.npy')):
        start = np.cumsum(rng.exponential(5.0, size=length))
        array: npt.NDArray[Any] = np.column_stack([start, start + rng.uniform(0.5, 4, length)])
    elif columns == 1:
        array = _vector(name, dtype, length, lengths, rng)
    else:
        array = np.column_stack(
            [_vector(name, dtype, length, lengths, rng) for _ in range(columns)]
        ).reshape(length, columns)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _table(template: Mapping[str, Any], length: int, rng: np.random.Generator) -> pl.DataFrame:
    columns: dict[str, Any] = {}
    for column in template['column_names']:
        if column == 'label':
            columns[column] = rng.choice(['good', 'mua', 'noise'], size=length).tolist()
        elif column in ('uuids',):
            columns[column] = bytes_to_uuid_strings(random_uuid_bytes(rng, length))
        elif column in ('cluster_id', 'choice', 'feedbackType', 'position', 'state'):
            columns[column] = rng.integers(-1, 2, size=length)
        elif column.endswith('times') or column in ('start', 'stop', 'time'):
            columns[column] = np.cumsum(rng.exponential(1.0, size=length))
        else:
            columns[column] = rng.random(length)
    return pl.DataFrame(columns)


def _content(
    template: Mapping[str, Any],
    length: int,
    lengths: Mapping[str, int],
    rng: np.random.Generator,
    raw_bytes: int,
    row: Mapping[str, Any],
) -> bytes:
    kind = template['content']
    if kind == 'npy':
        return _npy(template, length, lengths, rng)
    if kind == 'pqt':
        # with pandas metadata, as pandas writes them (ONE's reader requires schema metadata)
        table = to_arrow(_table(template, length, rng))
        meta = {b'pandas': json.dumps(pandas_metadata(table, ())).encode()}
        buffer = io.BytesIO()
        pq.write_table(table.replace_schema_metadata(meta), buffer)
        return buffer.getvalue()
    if kind == 'csv':
        return _table(template, length, rng).write_csv().encode()
    if kind == 'jsonable':
        lines = [
            json.dumps(
                {
                    'trial_num': i + 1,
                    'contrast': float(rng.choice([0, 0.0625, 0.125, 0.25, 1])),
                    'position': int(rng.choice([-35, 35])),
                    'response_time': float(rng.uniform(0.1, 3)),
                }
            )
            for i in range(length)
        ]
        return ('\n'.join(lines) + '\n').encode()
    if kind == 'json':
        settings = {'PYBPOD_PROTOCOL': template['name'].split('.')[0], 'SESSION_NUMBER': '001',
                    'IBLRIG_VERSION': _RIG_VERSIONS[int(rng.integers(len(_RIG_VERSIONS)))],
                    'seed': int(rng.integers(1 << 30))}  # fmt: skip
        return json.dumps(settings, indent=1).encode()
    if kind == 'ssv':
        values = rng.integers(0, 100_000, size=(length, template['n_columns']))
        return ''.join(' '.join(map(str, r)) + '\n' for r in values.tolist()).encode()
    if kind == 'mp4':
        ftyp = b'ftypisom' + (512).to_bytes(4, 'big') + b'isomiso2avc1mp41'
        box = (len(ftyp) + 4).to_bytes(4, 'big') + ftyp
        body = rng.integers(0, 256, size=max(raw_bytes - len(box) - 8, 0), dtype=np.uint8)
        return box + (len(body) + 8).to_bytes(4, 'big') + b'mdat' + body.tobytes()
    if kind == 'bin':
        size = length * template['row_bytes'] if template['length'] else raw_bytes
        return rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
    if kind == 'meta':
        lines = [f'nSavedChans={385 if "imec" in row["rel_path"] else 9}',
                 f'imSampRate={30000 if ".ap." in row["rel_path"] else 2500}',
                 f'fileSizeBytes={raw_bytes}', 'typeThis=imec']  # fmt: skip
        return ('\n'.join(lines) + '\n').encode()
    if kind == 'ch':
        return json.dumps({'dtype': 'int16', 'nc': 385, 'chunk_bounds': [0, 30000]}).encode()
    if kind == 'wav':
        buffer = io.BytesIO()
        with wave.open(buffer, 'wb') as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(200_000)
            out.writeframes(rng.integers(-2000, 2000, size=raw_bytes // 2, dtype='<i2').tobytes())
        return buffer.getvalue()
    if kind == 'zip':
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w') as archive:
            info = zipfile.ZipInfo('task.py', date_time=_ZIP_TIME)
            archive.writestr(info, f'# protocol code {int(rng.integers(1 << 30))}\n')
        return buffer.getvalue()
    raise InvalidArgument(f'Unknown content kind "{kind}"', value=kind)


# --- generation -------------------------------------------------------------------------------


def _expand_templates() -> pl.DataFrame:
    """One row per template and probe (per-probe templates twice, for probe00 and probe01)."""
    rows = []
    for number, t in enumerate(TEMPLATES):
        for probe in (0, 1) if t.per_probe else (None,):
            fill = (
                {'probe': f'probe{probe:02d}', 'imec': f'imec{probe}'} if probe is not None else {}
            )
            rows.append(
                {
                    'number': number,
                    'collection': t.collection.format(**fill) if fill else t.collection,
                    'name': t.name.format(**fill) if fill else t.name,
                    'dataset_type': t.dataset_type,
                    'probe': probe,
                    'revisable': t.revisable,
                    'legacy_sorting': t.legacy_sorting,
                    'qc_group': t.qc_group,
                    'length': t.length,
                    'row_bytes': t.row_bytes,
                    'size_median': t.size[0],
                    'size_sigma': t.size[1],
                    'content': t.content,
                    'dtype': t.dtype,
                    'n_columns': t.columns if isinstance(t.columns, int) else len(t.columns),
                    'column_names': list(t.columns) if not isinstance(t.columns, int) else [],
                    **{f'in_{k}': k in t.kinds for k in KINDS},
                }
            )
    return pl.DataFrame(rows, schema_overrides={'probe': pl.Int8})


def _uuids(rng: np.random.Generator, n: int) -> pl.Series:
    return bytes_to_uuid_strings(random_uuid_bytes(rng, n))


def _draw_qc(rng: np.random.Generator, shape: tuple[int, ...], group: str) -> npt.NDArray[Any]:
    return rng.choice(len(QC_LEVELS), size=shape, p=_QC_GROUP_PROBABILITIES[group])


def generate(
    n_sessions: int = 100,
    *,
    seed: int = 0,
    n_labs: int = 10,
    sessions_per_subject: int = 40,
    revision_fraction: float = 0.1,
    missing_fraction: float = 0.02,
    legacy_sorting_fraction: float = 0.6,
    start: date = date(2019, 1, 7),
    kind_weights: Mapping[str, float] | None = None,
) -> SyntheticData:
    """Generate a deterministic IBL-like database.

    Parameters
    ----------
    n_sessions
        Number of sessions; datasets average about 120 per session.
    seed
        Everything drawn depends on it alone.
    n_labs
        Number of labs (IBL lab names first, then ``lab11``...).
    sessions_per_subject
        Average sessions per subject; subjects go through habituation, training, biased and
        ephys sessions in that order.
    revision_fraction
        Fraction of sessions whose trials and spike sorting were re-extracted in one or two
        ``#YYYY-MM-DD#`` revisions; the latest revision of each dataset is the default.
    missing_fraction
        Fraction of datasets marked as not existing (``exists=False``), more for raw video.
    legacy_sorting_fraction
        Fraction of ephys sessions that also have the older spike sorting in ``alf/probeXX``.
    start
        Earliest first-session date.
    kind_weights
        Share of habituation, training, biased and ephys sessions.

    Raises
    ------
    InvalidArgument
        A count or fraction out of range.
    """
    if n_sessions < 0 or n_labs < 1 or sessions_per_subject < 1:
        raise InvalidArgument(
            f'Invalid counts: n_sessions={n_sessions}, n_labs={n_labs}, '
            f'sessions_per_subject={sessions_per_subject}',
            value=(n_sessions, n_labs, sessions_per_subject),
        )
    for label, fraction in (
        ('revision_fraction', revision_fraction),
        ('missing_fraction', missing_fraction),
        ('legacy_sorting_fraction', legacy_sorting_fraction),
    ):
        if not 0.0 <= fraction <= 1.0:
            raise InvalidArgument(f'{label} must be within [0, 1], not {fraction}', value=fraction)
    weights = dict(kind_weights or _KIND_WEIGHTS)
    if set(weights) != set(KINDS) or min(weights.values()) < 0 or sum(weights.values()) <= 0:
        raise InvalidArgument(f'kind_weights must give a weight to each of {KINDS}', value=weights)
    rng = np.random.default_rng(seed)
    labs = _make_labs(n_labs)
    subjects = _make_subjects(rng, labs, n_sessions, sessions_per_subject)
    sessions = _make_sessions(rng, subjects, n_sessions, start, weights, revision_fraction,
                              legacy_sorting_fraction)  # fmt: skip
    templates = _expand_templates()
    datasets = _make_datasets(rng, sessions, templates, missing_fraction)
    insertions = _make_insertions(rng, sessions)
    dataset_types = _make_dataset_types()
    return SyntheticData(
        seed=seed,
        labs=labs,
        subjects=subjects,
        sessions=sessions.drop('kind', '_revisions', '_legacy_sorting', '_rev1', '_rev2'),
        datasets=datasets,
        insertions=insertions,
        dataset_types=dataset_types,
        templates=templates,
    )


def _make_labs(n_labs: int) -> pl.DataFrame:
    rows = [
        _LABS[i] if i < len(_LABS) else (f'lab{i + 1:02d}', 'Synthetic', f'L{i + 1:02d}_{{:03d}}')
        for i in range(n_labs)
    ]
    return pl.DataFrame(rows, schema=['name', 'institution', 'subject_format'], orient='row')


def _make_subjects(
    rng: np.random.Generator, labs: pl.DataFrame, n_sessions: int, per_subject: int
) -> pl.DataFrame:
    n_labs = labs.height
    # enough subjects to cover the labs at scale, and several progressing ones in small sets
    n_subjects = max(1, -(-n_sessions // per_subject), min(n_labs, n_sessions // 4))
    lab_index = np.arange(n_subjects) % n_labs
    numbers = np.arange(n_subjects) // n_labs + 1
    formats = labs['subject_format'].to_list()
    names = labs['name'].to_list()
    nicknames = [
        formats[lab].format(number + _SUBJECT_OFFSET.get(names[lab], 0))
        for lab, number in zip(lab_index.tolist(), numbers.tolist(), strict=True)
    ]
    birth = np.datetime64('2018-06-01') + rng.integers(0, 5 * 365, size=n_subjects)
    return pl.DataFrame(
        {
            'id': _uuids(rng, n_subjects),
            'nickname': nicknames,
            'lab': [names[i] for i in lab_index.tolist()],
            'sex': rng.choice(['M', 'F'], size=n_subjects).tolist(),
            'birth_date': pl.Series(birth).cast(pl.Date),
        }
    )


def _make_sessions(
    rng: np.random.Generator,
    subjects: pl.DataFrame,
    n_sessions: int,
    start: date,
    weights: Mapping[str, float],
    revision_fraction: float,
    legacy_fraction: float,
) -> pl.DataFrame:
    n_subjects = subjects.height
    shares = rng.dirichlet(np.full(n_subjects, 4.0)) if n_subjects else np.ones(0)
    counts = rng.multinomial(n_sessions, shares) if n_subjects else np.zeros(0, dtype=int)
    subject = np.repeat(np.arange(n_subjects), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    position = np.arange(n_sessions) - first
    fraction = position / np.maximum(np.repeat(counts, counts), 1)
    total = sum(weights.values())
    bounds = np.cumsum([weights[k] / total for k in KINDS])
    kind = np.minimum(np.searchsorted(bounds, fraction, side='right'), len(KINDS) - 1)

    first_day = rng.integers(0, 4 * 365, size=n_subjects)
    gaps = rng.choice([0, 1, 1, 1, 1, 1, 2, 3], size=n_sessions, p=[0.03] + [0.97 / 7] * 7)
    gaps[position == 0] = 0
    day = np.cumsum(gaps)
    day = day - day[first] + np.repeat(first_day, counts)
    dates = np.datetime64(start) + day

    version = rng.integers(0, len(_RIG_VERSIONS), size=n_sessions)
    protocol = [
        _PROTOCOLS[KINDS[k]] + _RIG_VERSIONS[v]
        for k, v in zip(kind.tolist(), version.tolist(), strict=True)
    ]
    project_pick = rng.integers(0, 2, size=n_sessions)
    extra = rng.random(n_sessions)
    extra_pick = rng.integers(0, len(_EXTRA_PROJECTS), size=n_sessions)
    projects = []
    for k, p, e, x in zip(kind.tolist(), project_pick.tolist(), extra.tolist(),
                          extra_pick.tolist(), strict=True):  # fmt: skip
        options = _PROJECTS[KINDS[k]]
        names = [options[p % len(options)]]
        if e < 0.25:
            names.append(_EXTRA_PROJECTS[x])
        projects.append('' if e > 0.99 else ','.join(names))
    ephys = kind == KINDS.index('ephys')
    n_probes = np.where(ephys, np.where(rng.random(n_sessions) < 0.8, 2, 1), 0)
    revisions = np.where(rng.random(n_sessions) < revision_fraction,
                         np.where(rng.random(n_sessions) < 0.8, 1, 2), 0)  # fmt: skip
    rev1 = rng.integers(30, 600, size=n_sessions)
    rev2 = rev1 + rng.integers(30, 300, size=n_sessions)
    hours = rng.integers(8 * 3600, 19 * 3600, size=n_sessions)

    frame = pl.DataFrame(
        {
            'id': _uuids(rng, n_sessions),
            'lab': subjects['lab'].gather(subject)
            if n_sessions
            else pl.Series([], dtype=pl.String),
            'subject': subjects['nickname'].gather(subject)
            if n_sessions
            else pl.Series([], dtype=pl.String),
            'date': pl.Series(dates.astype('datetime64[D]')).cast(pl.Date),
            'task_protocol': pl.Series(protocol, dtype=pl.String),
            'projects': pl.Series(projects, dtype=pl.String),
            'kind': pl.Series([KINDS[k] for k in kind.tolist()], dtype=pl.String),
            'n_probes': pl.Series(n_probes, dtype=pl.UInt8),
            'qc': pl.Series(
                [QC_LEVELS[q] for q in _draw_qc(rng, (n_sessions,), 'task').tolist()],
                dtype=pl.String,
            ),
            '_revisions': pl.Series(revisions, dtype=pl.UInt8),
            '_legacy_sorting': pl.Series(ephys & (rng.random(n_sessions) < legacy_fraction)),
            '_seconds': pl.Series(hours, dtype=pl.Int64),
            '_rev1': pl.Series(rev1, dtype=pl.Int32),
            '_rev2': pl.Series(rev2, dtype=pl.Int32),
        }
    )
    number = pl.int_range(pl.len()).over('subject', 'date') + 1
    session_path = pl.concat_str(
        'lab', pl.lit('Subjects'), 'subject', pl.col('date').cast(pl.String),
        pl.col('number').cast(pl.String).str.zfill(3), separator='/',
    )  # fmt: skip
    frame = frame.with_columns(number.cast(pl.UInt16).alias('number')).with_columns(
        session_path.alias('session_path'),
        (pl.col('date').cast(pl.Datetime('us')) + pl.duration(seconds='_seconds')).alias(
            'start_time'
        ),
        (pl.col('date') + pl.duration(days='_rev1')).cast(pl.String).alias('_rev1'),
        (pl.col('date') + pl.duration(days='_rev2')).cast(pl.String).alias('_rev2'),
    )
    return frame.select(
        'id', 'lab', 'subject', 'date', 'number', 'task_protocol', 'projects', 'start_time',
        'n_probes', 'qc', 'session_path', 'kind', '_revisions', '_legacy_sorting', '_rev1',
        '_rev2',
    )  # fmt: skip


def _make_datasets(
    rng: np.random.Generator,
    sessions: pl.DataFrame,
    templates: pl.DataFrame,
    missing_fraction: float,
) -> pl.DataFrame:
    n_sessions = sessions.height
    kind = np.array([KINDS.index(k) for k in sessions['kind'].to_list()], dtype=np.intp)
    in_kind = np.column_stack([templates[f'in_{k}'].to_numpy() for k in KINDS])  # (T, kinds)
    probe = templates['probe'].fill_null(-1).to_numpy()
    n_probes = sessions['n_probes'].to_numpy().astype(np.int64)
    legacy = sessions['_legacy_sorting'].to_numpy()
    mask = in_kind.T[kind] & (probe[None, :] < n_probes[:, None])
    mask &= ~templates['legacy_sorting'].to_numpy()[None, :] | legacy[:, None]
    s_idx, t_idx = np.nonzero(mask)

    # revision copies: every revisable dataset of a revised session, once or twice
    revisions = sessions['_revisions'].to_numpy().astype(np.int64)
    revisable = templates['revisable'].to_numpy()[t_idx] & (revisions[s_idx] > 0)
    copies1 = np.nonzero(revisable)[0]
    copies2 = copies1[revisions[s_idx[copies1]] > 1]
    rows = np.concatenate([np.arange(len(s_idx)), copies1, copies2])
    rev_number = np.concatenate([np.zeros(len(s_idx), np.int64), np.ones(len(copies1), np.int64),
                                 np.full(len(copies2), 2, np.int64)])  # fmt: skip
    s_all, t_all = s_idx[rows], t_idx[rows]
    order = np.lexsort((rev_number, t_all, s_all))
    s_all, t_all, rev_number = s_all[order], t_all[order], rev_number[order]
    n = len(s_all)
    default = rev_number == np.where(templates['revisable'].to_numpy()[t_all], revisions[s_all], 0)

    # QC: one draw per session and QC group
    groups = list(_QC_GROUP_PROBABILITIES)
    group_of = templates['qc_group'].to_list()
    qc_draws = np.column_stack([_draw_qc(rng, (n_sessions,), g) for g in groups])
    qc_draws = qc_draws.reshape(n_sessions, len(groups))
    group_index = np.array([groups.index(g) if g else -1 for g in group_of], dtype=np.intp)
    row_group = group_index[t_all]
    qc = np.where(row_group >= 0, qc_draws[s_all, np.maximum(row_group, 0)], 0)

    # sizes: header + object length x bytes per row, or a log-normal draw
    length_key = templates['length'].to_list()
    key_index = np.array([_LENGTH_KEYS.index(k) if k else -1 for k in length_key], dtype=np.intp)
    medians = np.array([_LENGTHS[k][0] for k in _LENGTH_KEYS])
    sigmas = np.array([_LENGTHS[k][1] for k in _LENGTH_KEYS])
    object_length = np.rint(medians * np.exp(sigmas * rng.standard_normal(
        (n_sessions, 3, 2, len(_LENGTH_KEYS)))))  # fmt: skip
    row_key = key_index[t_all]
    probe_of_row = np.maximum(probe[t_all], 0)
    lengths = object_length[s_all, rev_number, probe_of_row, np.maximum(row_key, 0)]
    row_bytes = templates['row_bytes'].to_numpy()[t_all]
    content = templates['content'].to_list()
    header = np.array([_NPY_HEADER if c == 'npy' else 0 for c in content])[t_all]
    free = np.exp(
        np.log(templates['size_median'].to_numpy()[t_all])
        + templates['size_sigma'].to_numpy()[t_all] * rng.standard_normal(n)
    )
    file_size = np.where(row_key >= 0, header + lengths * row_bytes, np.rint(free))
    raw_video = np.array([c == 'mp4' for c in content])[t_all]
    exists = rng.random(n) >= np.where(raw_video, min(1.0, 3 * missing_fraction),
                                        missing_fraction)  # fmt: skip
    hash_bytes = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    ids = _uuids(rng, n)
    created_hours = rng.integers(1, 12, size=n)

    rev = pl.Series(rev_number, dtype=pl.Int8)
    revision = (
        pl.DataFrame(
            {
                'rev': rev,
                'r1': sessions['_rev1'].gather(s_all),
                'r2': sessions['_rev2'].gather(s_all),
            }
        )
        .select(
            pl.when(pl.col('rev') == 0)
            .then(pl.lit(''))
            .when(pl.col('rev') == 1)
            .then(pl.col('r1'))
            .otherwise(pl.col('r2'))
        )
        .to_series()
    )
    frame = pl.DataFrame(
        {
            'id': ids,
            'eid': sessions['id'].gather(s_all),
            'session_path': sessions['session_path'].gather(s_all),
            'collection': templates['collection'].gather(t_all),
            'revision': revision,
            'name': templates['name'].gather(t_all),
            'dataset_type': templates['dataset_type'].gather(t_all),
            'file_size': pl.Series(file_size, dtype=pl.Float64).cast(pl.UInt64),
            'hash': _hex(hash_bytes),
            'exists': pl.Series(exists, dtype=pl.Boolean),
            'qc': pl.Series(QC_LEVELS, dtype=QC_DTYPE).gather(qc),
            'default_revision': pl.Series(default, dtype=pl.Boolean),
            '_start': sessions['start_time'].gather(s_all),
            '_hours': pl.Series(created_hours, dtype=pl.Int64),
            'template': pl.Series(t_all, dtype=pl.UInt16),
            'probe': templates['probe'].gather(t_all),
        }
    )
    collection = pl.when(pl.col('collection') != '').then(pl.col('collection') + '/')
    revision_folder = pl.when(pl.col('revision') != '').then('#' + pl.col('revision') + '#/')
    rel_path = pl.concat_str(
        collection.otherwise(pl.lit('')), revision_folder.otherwise(pl.lit('')), pl.col('name')
    )
    created = pl.when(pl.col('revision') != '').then(
        pl.col('revision').str.to_date('%Y-%m-%d').cast(pl.Datetime('us'))
    ).otherwise(pl.col('_start')) + pl.duration(hours='_hours')
    return frame.with_columns(
        rel_path.alias('rel_path'),
        pl.col('name').str.extract(r'\.([^.]+)$').alias('data_format'),
        created.alias('created_datetime'),
    ).select(
        'id', 'eid', 'session_path', 'collection', 'revision', 'name', 'rel_path',
        'dataset_type', 'data_format', 'file_size', 'hash', 'exists', 'qc', 'default_revision',
        'created_datetime', 'template', 'probe',
    )  # fmt: skip


def _hex(raw: npt.NDArray[np.uint8]) -> pl.Series:
    """Lowercase hex strings of the rows of a byte matrix (md5-like hashes)."""
    n, width = raw.shape
    text = np.frombuffer(raw.tobytes().hex().encode(), dtype=np.uint8)

    offsets = np.arange(0, 2 * width * (n + 1), 2 * width, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))
    return pl.Series(array)


def _make_insertions(rng: np.random.Generator, sessions: pl.DataFrame) -> pl.DataFrame:
    n_probes = sessions['n_probes'].to_numpy().astype(np.int64)
    s_idx = np.repeat(np.arange(sessions.height), n_probes)
    number = np.arange(len(s_idx)) - np.repeat(np.cumsum(n_probes) - n_probes, n_probes)
    return pl.DataFrame(
        {
            'id': _uuids(rng, len(s_idx)),
            'eid': sessions['id'].gather(s_idx),
            'name': pl.Series([f'probe{p:02d}' for p in number.tolist()], dtype=pl.String),
            'model': pl.Series(
                rng.choice(['3B2', '3A', 'NP2.1'], size=len(s_idx), p=[0.8, 0.1, 0.1]).tolist(),
                dtype=pl.String,
            ),
            'serial': pl.Series(
                (18_005_000_000 + rng.integers(0, 999_999, size=len(s_idx))).astype(str).tolist(),
                dtype=pl.String,
            ),
        }
    )


def _make_dataset_types() -> pl.DataFrame:
    seen: dict[str, str] = {}
    for t in TEMPLATES:
        if t.dataset_type in seen:
            continue
        obj, _, attribute = t.dataset_type.partition('.')
        obj = obj.strip('_')
        pattern = (
            f'*{obj}.{attribute}*' if not t.dataset_type.startswith('_') else f'{t.dataset_type}.*'
        )
        seen[t.dataset_type] = pattern
    names = sorted(seen)
    return pl.DataFrame(
        {
            'name': names,
            'description': [f'Synthetic {n} data' for n in names],
            'filename_pattern': [seen[n] for n in names],
        }
    )


def template_names() -> Sequence[str]:
    """File names of all templates (with ``{probe}``/``{imec}`` placeholders)."""
    return [t.name for t in TEMPLATES]
