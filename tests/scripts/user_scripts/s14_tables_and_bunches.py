"""Tables: a parquet dataset, an object as a table, attribute access on the object."""

import os

import numpy as np
from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

eid = sorted(one.search(dataset='trials.table'))[0]
table = one.load_dataset(eid, '_ibl_trials.table.pqt', collection='alf')
# Deliberate difference: tables are polars DataFrames in one_async (pandas in ONE 2.9); these
# idioms read both.  Values go through float() as numpy and Python scalars print differently.
print('columns:', list(table.columns))
print('rows:', len(table))
print('choice:', [float(x) for x in table['choice']])
print('mean rt:', round(float(np.nanmean(np.asarray(table['response_times']))), 6))

trials = one.load_object(eid, 'trials', collection='alf')
print('attribute access:', trials.choice.shape, trials.intervals.shape)
print('keys:', sorted(trials.keys()))
df = trials.to_df()
print('table columns:', list(df.columns))
print('table rows:', len(df))
print('intervals_0:', round(float(np.nansum(np.asarray(df['intervals_0']))), 6))

wheel = one.load_object(eid, 'wheel')
print('wheel:', sorted(wheel.keys()), wheel['position'].shape)
moves = one.load_object(eid, 'wheelMoves', attribute='intervals')
print('wheel moves:', sorted(moves.keys()), moves['intervals'].shape)
