"""Load several datasets at once with their records; fetch files without loading them."""

import os
from pathlib import Path

import numpy as np
from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
    cache_dir=os.environ['SCRIPT_CACHE_DIR'],
)

eid = sorted(one.search(dataset='trials'))[0]
names = ['_ibl_trials.intervals.npy', '_ibl_trials.included.npy', '_ibl_wheel.position.npy']
data, records = one.load_datasets(eid, names)
print('loaded:', len(data), len(records))
for name, array, record in zip(names, data, records, strict=False):
    print(name, np.asarray(array).shape, record['rel_path'], record['file_size'])
data, records = one.load_datasets(eid, names[:2], collections='alf')
print('with collections:', [np.asarray(d).shape for d in data])
data, records = one.load_datasets(eid, [*names[:1], 'nothing.here.npy'], assert_present=False)
print('missing not asserted:', [None if d is None else np.asarray(d).shape for d in data])
paths, _ = one.load_datasets(eid, names[:2], download_only=True)
print('download only:', sorted(p.name for p in paths))
try:
    one.load_datasets(eid, ['nothing.here.npy'])
except Exception as ex:
    print('missing:', type(ex).__name__)

cache = Path(os.environ['SCRIPT_CACHE_DIR'])

for eid in sorted(one.search(dataset='wheel')):
    files = one.load_object(eid, 'wheel', collection='alf', download_only=True)
    rel = sorted(Path(f).relative_to(cache).as_posix() for f in files)
    print(eid, rel, all(Path(f).exists() for f in files))
    sizes = sorted(Path(f).stat().st_size for f in files)
    print('  sizes:', sizes)
print('cached files:', sum(1 for p in cache.rglob('*.npy')))
