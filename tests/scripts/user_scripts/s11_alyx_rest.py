"""Read records straight from Alyx with one.alyx.rest, as in the "useful Alyx queries" notebook."""

import os

from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

sessions = one.alyx.rest('sessions', 'list')
print('sessions:', len(sessions), sorted(s['subject'] for s in sessions))
print('session keys:', sorted(sessions[0].keys()))
eid = sorted(s['id'] for s in sessions)[0]
session = one.alyx.rest('sessions', 'read', id=eid)
print('read:', session['subject'], session['number'], sorted(session.keys()))
by_subject = one.alyx.rest('sessions', 'list', subject='KS001')
print('by subject:', sorted(s['id'] for s in by_subject))
dsets = one.alyx.rest('datasets', 'list', session=eid)
print('datasets:', len(dsets), sorted(d['name'] for d in dsets)[:5])
everything = one.alyx.rest('datasets', 'list')
last = everything[len(everything) - 1]
print('all datasets:', len(everything), everything[0]['name'], last['name'])
print('slice:', [d['name'] for d in everything[10:15]])
print('iterated:', sum(1 for _ in everything))
print('dataset keys:', sorted(everything[0].keys()))
types = one.alyx.rest('dataset-types', 'list')
print('dataset types:', len(types), sorted(t['name'] for t in types)[:5])
repo = one.alyx.rest('data-repository', 'list')
print('repositories:', sorted(r['name'] for r in repo))
print('endpoints has sessions:', 'sessions' in one.alyx.list_endpoints())
print('user:', one.alyx.user, 'logged in:', one.alyx.is_logged_in)
print('base url:', one.alyx.base_url == os.environ['ALYX_URL'])
try:
    one.alyx.rest('not-an-endpoint', 'list')
except Exception as ex:
    print('bad endpoint:', isinstance(ex, ValueError))

sessions = one.alyx.rest('sessions', 'list', lab='danlab')
print('lab:', sorted(s['id'] for s in sessions))
sessions = one.alyx.rest('sessions', 'list', date_range=['2021-10-26', '2021-10-27'])
print('dates:', sorted(s['start_time'] for s in sessions))
sessions = one.alyx.rest('sessions', 'list', task_protocol='ephys')
print('protocol:', sorted(s['task_protocol'] for s in sessions))
sessions = one.alyx.rest('sessions', 'list', django='subject__nickname__icontains,ks')
print('django:', sorted(s['subject'] for s in sessions))
sessions = one.alyx.rest('sessions', 'list', dataset_types='spikes.times')
print('with spikes:', sorted(s['id'] for s in sessions))
eid = sorted(s['id'] for s in sessions)[0]
dsets = one.alyx.rest('datasets', 'list', session=eid, name='_ibl_trials.intervals.npy')
print('named dataset:', [(d['name'], d['collection'], d['revision']) for d in dsets])
print('dataset qc:', sorted({d['qc'] for d in one.alyx.rest('datasets', 'list', session=eid)}))
ins = one.alyx.rest('insertions', 'list', subject='DY_001')
print('insertions of subject:', sorted((i['name'], i['session']) for i in ins))
