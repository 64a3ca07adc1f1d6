"""Load single datasets and find where they were saved."""

import os
from pathlib import Path

import numpy as np
from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)
cache = Path(one.cache_dir)

eid = sorted(one.search(dataset='trials'))[-1]
intervals = one.load_dataset(eid, '_ibl_trials.intervals.npy')
print('intervals:', intervals.shape, round(float(np.nansum(intervals)), 6))
choice = one.load_dataset(eid, '_ibl_trials.included.npy', collection='alf')
print('included:', choice.shape, sorted(set(np.unique(choice).tolist())))
no_ext = one.load_dataset(eid, '_ibl_trials.stimOff_times')
print('no extension:', no_ext.shape)
by_dict = one.load_dataset(eid, {'object': 'trials', 'attribute': 'stimOff_times'})
print('dict:', by_dict.shape)
path = one.load_dataset(eid, '_ibl_trials.intervals.npy', download_only=True)
print('path:', Path(path).relative_to(cache).as_posix(), Path(path).exists())
for revision in sorted(one.list_revisions(eid)):
    try:
        data = one.load_dataset(eid, '_ibl_trials.intervals.npy', revision=revision or None)
        print('revision', repr(revision), data.shape, round(float(np.nansum(data)), 6))
    except Exception as ex:
        print('revision', repr(revision), type(ex).__name__)
try:
    one.load_dataset(eid, 'no.such.dataset.npy')
except Exception as ex:
    print('missing dataset:', type(ex).__name__)
