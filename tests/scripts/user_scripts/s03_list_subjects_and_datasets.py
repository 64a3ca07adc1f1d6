"""List subjects, the datasets of a session with filters, and dataset details as a table."""

import os

from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

print('subjects:', one.list_subjects())
eid = sorted(one.search(subject='DY_001', dataset='trials'))[0]
datasets = one.list_datasets(eid)
print('datasets:', len(datasets))
for d in datasets:
    print(' ', d)
print('alf:', one.list_datasets(eid, collection='alf'))
print('trials files:', one.list_datasets(eid, filename='*trials*'))
print('trials in alf:', one.list_datasets(eid, filename='_ibl_trials.*', collection='alf'))
print('npy:', len(one.list_datasets(eid, filename='*.npy')))
print('probe collections:', one.list_datasets(eid, collection='alf/probe0*'))
print('ALF dict:', one.list_datasets(eid, filename={'object': 'wheel', 'extension': 'npy'}))
print('qc PASS:', one.list_datasets(eid, collection='alf', qc='PASS'))
print('qc set:', len(one.list_datasets(eid, qc='FAIL', ignore_qc_not_set=True)))
print('all datasets:', len(one.list_datasets()))
print('trials everywhere:', len(one.list_datasets(filename='_ibl_trials.intervals.npy')))
# Deliberate difference: ONE 2.9 gives an empty DataFrame for an unknown session, one_async an
# empty list; len() reads both.
print('unknown session:', len(one.list_datasets('c2a6b3c4-1d2e-4f5a-8b9c-0d1e2f3a4b5c')))

eid = sorted(one.search(subject='DY_001'))[0]
df = one.list_datasets(eid, details=True)
print('rows:', len(df))
# one_async returns polars frames (a deliberate difference); these idioms work on both:
# df['col'] column access, list(...) of a column, len(df), 'col' in df.columns.
rel_paths = list(df['rel_path'])
print('rel_path:', len(rel_paths), sorted(rel_paths))
print('has file_size:', 'file_size' in df.columns, 'has hash:', 'hash' in df.columns)
print('sizes:', sorted(int(x) for x in df['file_size']))
print('qc:', sorted({str(q) for q in df['qc']}))
print('exists:', sorted({bool(x) for x in df['exists']}))
alf = one.list_datasets(eid, collection='alf', details=True)
print('alf rel_path:', sorted(alf['rel_path']))
print('default revision:', sorted(alf['default_revision']))
