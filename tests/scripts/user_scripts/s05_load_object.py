"""Load ALF objects: whole, by collection, by attribute, by revision."""

import os

import numpy as np
from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)


def show(name, obj):
    print(name, sorted(obj.keys()))
    for key in sorted(obj.keys()):
        value = np.asarray(obj[key])
        # Deliberate difference: columns of a table (trials.table.pqt) keep their own dtype in
        # one_async (ONE 2.9 casts every column to one common dtype), so compare values only.
        total = float(np.nansum(value)) if value.dtype.kind in 'fiub' else None
        print('  ', key, value.shape, None if total is None else round(total, 6))


eid = sorted(one.search(dataset='trials'))[0]
show('trials', one.load_object(eid, 'trials'))
show('trials in alf', one.load_object(eid, 'trials', collection='alf'))
show('intervals only', one.load_object(eid, 'trials', attribute='intervals'))
show('two attributes', one.load_object(eid, 'trials', attribute=['included', 'stimOff_times']))
wheel = one.load_object(eid, 'wheel', collection='alf')
show('wheel', wheel)
print('wheel len:', len(wheel['timestamps']) if 'timestamps' in wheel else None)
for revision in sorted(one.list_revisions(eid)):
    if revision:
        show(f'trials #{revision}#', one.load_object(eid, 'trials', revision=revision))
try:
    one.load_object(eid, 'not_an_object')
except Exception as ex:
    print('missing object:', type(ex).__name__)
