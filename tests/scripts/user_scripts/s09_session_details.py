"""Session details, dataset types, and conversions between eids, paths, references and URLs."""

import os
from pathlib import Path

from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

for eid in sorted(one.search(lab='cortexlab')):
    det = one.get_details(eid)
    print(eid, sorted(det.keys()))
    print('  ', det['subject'], det['lab'], str(det['date']), det['number'], det['task_protocol'])
    full = one.get_details(eid, full=True)
    print('  full keys:', sorted(full.keys()))
    print('  full:', full['subject'], full['lab'], full['start_time'], full['number'])
    print('  datasets in full:', len(full['data_dataset_session_related']))
    print('  probes:', sorted(p['name'] for p in full.get('probe_insertion', [])))
many = one.get_details(sorted(one.search(lab='cortexlab')))
print('several:', len(many), sorted(d['subject'] for d in many))

eid = sorted(one.search(dataset='trials'))[0]
for dtype in ('trials.intervals', 'wheel.position', 'spikes.times'):
    print('type2datasets', dtype, sorted(one.type2datasets(eid, dtype)))
print('two types:', sorted(one.type2datasets(eid, ['trials.choice', 'wheel.timestamps'])))
print('dataset2type:', one.dataset2type('_ibl_trials.intervals.npy'))
info = one.describe_dataset('trials.intervals')
print('describe keys:', sorted(info.keys()))
print('describe name:', info['name'])

cache = Path(one.cache_dir)

for eid in sorted(one.search()):
    path = one.eid2path(eid)
    rel = Path(path).relative_to(cache).as_posix()
    ref = one.eid2ref(eid)
    print(eid, rel)
    print('  ref:', ref['subject'], str(ref['date']), ref['sequence'])
    print('  ref as str:', one.eid2ref(eid, as_dict=False))
    print('  ref parse:', sorted(one.eid2ref(eid, parse=False).items()))
    print('  path2eid:', one.path2eid(path) == eid)
    print('  ref2eid:', one.ref2eid(ref) == eid)
    print(
        '  to_eid path:',
        one.to_eid(path) == eid,
        'to_eid ref str:',
        one.to_eid(one.eid2ref(eid, as_dict=False)) == eid,
    )
    url = one.path2url(Path(path) / one.list_datasets(eid)[0])
    print('  url:', url.split('/', 3)[3])  # the path on the data server

eids = sorted(one.search())
print('list eid2path:', len(one.eid2path(eids)))
print('list path2eid:', one.path2eid(one.eid2path(eids)) == eids)
print('unknown eid2path:', one.eid2path('c2a6b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c'))
