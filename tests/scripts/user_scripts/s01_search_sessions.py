"""Find sessions by subject, lab, date range, task protocol and project; search details."""

import os
from datetime import date

from one.api import ONE

one = ONE(
    base_url=os.environ['ALYX_URL'],
    username=os.environ['ALYX_USER'],
    password=os.environ['ALYX_PWD'],
    silent=True,
)

print('all sessions:', len(one.search()))
for subject in one.list_subjects():
    eids = one.search(subject=subject)
    print(subject, len(eids), sorted(eids))

print('lab danlab:', sorted(one.search(lab='danlab')))
print('laboratory cortex:', sorted(one.search(laboratory='cortex')))
print('date range:', sorted(one.search(date_range=['2021-10-26', '2021-10-27'])))
print('one day:', sorted(one.search(date_range='2022-03-31')))
print('ephys protocol:', sorted(one.search(task_protocol='ephysChoiceWorld')))
print('project:', sorted(one.search(projects='brainwide_map')))
print('number 1:', len(one.search(number=1)))
print('two subjects:', sorted(one.search(subject=['KS001', 'DY_001'])))
print('open range:', sorted(one.search(date_range=['2021-10-27', None])))
print('dates as dates:', sorted(one.search(date_range=[date(2021, 10, 25), date(2021, 10, 26)])))
print('KS001 ephys:', sorted(one.search(subject='KS001', task_protocol='ephys')))
print('nothing:', one.search(subject='no_such_mouse'))

eids, details = one.search(lab='danlab', details=True)
print('eids:', eids)
print('records:', len(details))
# Details are a list of dicts in ONE 2.9 (one per session) on both clients.
for eid, record in zip(eids, details, strict=False):
    print(eid, record['subject'], record['lab'], str(record['date']), record['number'])
    print('  keys:', sorted(record))
    print('  protocol:', record['task_protocol'], 'projects:', record['projects'])

eids, details = one.search(dataset='trials.intervals', details=True)
print('with trials:', sorted(eids), sorted(str(d['date']) for d in details))
