"""Calls from ONE's tutorial notebooks not covered elsewhere: whole-cache listings, dict and
wildcard filters, dataset names without extension, QC and multi-dataset searches."""

import os

import numpy as np
from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

eids = one.search(dataset=['trials', 'wheel'])
print('trials and wheel:', len(eids))
eids_local = one.search(dataset=['trials', 'wheel'], query_type='local')
print('same locally:', sorted(eids_local) == sorted(eids))
eid = sorted(eids)[0]
print('subjects:', sorted(one.list_subjects()))
print('all collections:', sorted(one.list_collections()))
print('all revisions:', sorted(one.list_revisions()))
print('whole cache datasets:', len(one.list_datasets()))
print('filename glob:', one.list_datasets(eid, filename='*trials*'))
print('filename dict:', one.list_datasets(eid, filename={'object': 'wheel'}))
print('attribute glob:', one.list_datasets(eid, filename={'attribute': 'time*'}))
choice = one.load_dataset(eid, '_ibl_trials.table.pqt')
print('table columns:', sorted(choice.columns))
position = one.load_dataset(eid, '_ibl_wheel.position')  # no extension: ONE appends '.*'
print('wheel position:', np.asarray(position).shape)
print('qc search:', len(one.search(dataset='trials', dataset_qc_lte='WARNING')))
print('ref:', one.eid2ref(eid, as_dict=False))
print('path parts:', one.eid2path(eid).parts[-3:])
print('date search:', len(one.search(date=str(one.get_details(eid)['date']))))
