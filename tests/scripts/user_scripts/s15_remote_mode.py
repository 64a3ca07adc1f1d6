"""A session in 'remote' mode: every query goes to Alyx."""

import os
from pathlib import Path

import numpy as np
from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
    mode='remote',
)
print('mode:', one.mode, 'offline:', one.offline)
eids = one.search(subject='DY_001', dataset='wheel')
print('search:', len(eids), sorted(eids))
eid = sorted(eids)[0]
print('datasets:', sorted(one.list_datasets(eid, collection='alf')))
print('collections:', sorted(one.list_collections(eid)))
print('revisions:', sorted(one.list_revisions(eid)))
wheel = one.load_object(eid, 'wheel', collection='alf')
print('wheel:', {k: wheel[k].shape for k in sorted(wheel.keys())})
print('position sum:', round(float(np.nansum(wheel['position'])), 6))
path = one.eid2path(eid)
print('path:', Path(path).relative_to(one.cache_dir).as_posix())
print('path2eid:', one.path2eid(path) == eid)
full = one.get_details(eid, full=True)
print('details:', full['subject'], full['number'], full['lab'])
ref = one.eid2ref(eid)
print('ref:', ref['subject'], str(ref['date']), ref['sequence'])
