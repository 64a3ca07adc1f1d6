"""Search sessions having given datasets, and list the search terms."""

import os

from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

print('terms:', sorted(one.search_terms()))
print('local terms:', sorted(one.search_terms(query_type='local')))
print('trials:', sorted(one.search(dataset='trials')))
print('spikes:', sorted(one.search(dataset='spikes.times')))
print('two datasets:', sorted(one.search(dataset=['spikes.times', 'clusters.depths'])))
print('wheel in alf:', sorted(one.search(dataset='_ibl_wheel.position.npy')))
print('with lab and dataset:', sorted(one.search(lab='cortexlab', dataset='trials')))
print('abbreviated terms:', sorted(one.search(subj='DY', proj='brainwide')))
try:
    one.search(data='wheel')
except ValueError:
    print('ambiguous term refused')
try:
    one.search(foo='bar')
except ValueError:
    print('bad term refused')
