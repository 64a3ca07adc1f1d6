"""Load every object of a collection."""

import os

import numpy as np
from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

eid = sorted(one.search(dataset='spikes.times'))[0]
for collection in sorted(one.list_collections(eid, collection='alf/probe*')):
    objects = one.load_collection(eid, collection)
    print(collection, sorted(objects.keys()))
    for name in sorted(objects.keys()):
        parts = objects[name]
        shapes = {k: np.asarray(parts[k]).shape for k in sorted(parts.keys())}
        print('  ', name, shapes)
spikes = one.load_collection(eid, 'alf/probe00', object='spikes')
print('only spikes:', sorted(spikes.keys()), sorted(spikes['spikes'].keys()))
paths = one.load_collection(eid, 'alf/probe00', object='clusters', download_only=True)
print('download only:', sorted(p.name for p in paths))
