"""Probe insertions: search, pid2eid, eid2pid and the insertions endpoint."""

import os

from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

pids = one.search_insertions()
print('insertions:', len(pids))
pids = sorted(pids)
for pid in pids:
    eid, name = one.pid2eid(pid)
    print(pid, name, eid in one.search())
pids_, details = one.search_insertions(details=True)
print('details:', len(details), sorted(d['name'] for d in details))
print('detail keys:', sorted(details[0].keys()))
print('probe00:', len(one.search_insertions(name='probe00')))
for eid in sorted(one.search()):
    pids_of, names = one.eid2pid(eid)
    print(eid, sorted(names), len(pids_of))
    records = one.alyx.rest('insertions', 'list', session=eid)
    print('  rest:', len(records), sorted(r['name'] for r in records))
