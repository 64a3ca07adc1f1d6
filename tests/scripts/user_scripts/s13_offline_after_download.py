"""Download once online, then work offline from the cache."""

import os

import numpy as np
from one.api import ONE

url, user, pwd = os.environ['ALYX_URL'], os.environ['ALYX_USER'], os.environ['ALYX_PWD']
online = ONE(base_url=url, username=user, password=pwd, silent=True)
eid = sorted(online.search(dataset='trials'))[0]
trials = online.load_object(eid, 'trials', collection='alf')
print('online:', online.offline, sorted(trials.keys()))

offline = ONE(base_url=url, username=user, password=pwd, silent=True, mode='local')
print('offline:', offline.offline, offline.mode)
print(repr(offline).replace(url, '<alyx>'))
print('same sessions:', sorted(offline.search()) == sorted(online.search()))
again = offline.load_object(eid, 'trials', collection='alf')
print('same trials:', all(np.array_equal(again[k], trials[k], equal_nan=True) for k in trials))
try:
    offline.load_object(eid, 'wheel', collection='alf')
except Exception as ex:
    print('not downloaded offline:', type(ex).__name__)
