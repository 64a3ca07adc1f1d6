"""Collections and revisions of sessions."""

import os

from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

for eid in sorted(one.search()):
    print(eid)
    print('  collections:', sorted(one.list_collections(eid)))
    print('  alf* collections:', sorted(one.list_collections(eid, collection='alf*')))
    print('  revisions:', sorted(one.list_revisions(eid)))
    print('  trials revisions:', sorted(one.list_revisions(eid, filename='*trials*')))
    print('  alf datasets with revision:', one.list_datasets(eid, collection='alf', revision='*'))

eid = sorted(one.search(dataset='spikes'))[0]
by_collection = one.list_collections(eid, details=True)
print('collection details:', {k: len(v) for k, v in sorted(by_collection.items())})
by_revision = one.list_revisions(eid, details=True)
print('revision details:', {k: len(v) for k, v in sorted(by_revision.items())})
print('all collections:', sorted(one.list_collections()))
print('all revisions:', sorted(one.list_revisions()))
