"""Connect with ONE() from the configured parameters; local and remote queries."""

from datetime import datetime

from one.api import ONE

one = ONE()
print('mode:', one.mode, 'offline:', one.offline)
print(str(one).replace(one.alyx.base_url, '<alyx>'))
print('loaded:', isinstance(one.refresh_cache(), datetime))
print('refresh:', isinstance(one.refresh_cache('refresh'), datetime))

local = one.search(subject='KS001', query_type='local')
remote = one.search(subject='KS001', query_type='remote')
print('local:', sorted(local))
print('remote:', len(remote), sorted(remote), remote[0] in local)
as_list = list(remote)
print('remote list:', len(as_list), as_list == [remote[i] for i in range(len(remote))])
print('remote terms has subject:', 'subject' in one.search_terms(query_type='remote'))
eid = sorted(local)[0]
print('local datasets:', one.list_datasets(eid, query_type='local'))
print('remote datasets:', sorted(one.list_datasets(eid, query_type='remote')))
remote_lab = one.search(lab='danlab', date_range=['2021-10-26', '2021-10-28'], query_type='remote')
print('remote lab and dates:', sorted(remote_lab))
eids, details = one.search(subject='DY_001', query_type='remote', details=True)
print('remote details:', len(details), sorted(str(d['date']) for d in details))
