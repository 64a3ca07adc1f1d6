"""Describe an ALF folder tree as Alyx records, so the local server can serve it.

Sessions are folders ``<lab>/Subjects/<subject>/<yyyy-mm-dd>/<nnn>``; every file below a session
whose name has the ALF form ``(_namespace_)object.attribute(...).extension`` is a dataset, in the
collection given by its folder (``#revision#`` folders set the revision; of the revisions of a
dataset, the last is the default one).  Sizes and MD5 hashes are
computed from the files; identifiers are drawn from a seeded generator in sorted path order, so
the same tree and seed always give the same UUIDs.  Collections naming a probe (``probe00``)
produce a probe insertion per session and label.
"""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ...defaults import HASH_CHUNK_SIZE
from .store import relative_path

__all__ = ['scan']

_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}$')
_NUMBER = re.compile(r'^\d{1,3}$')
_REVISION = re.compile(r'^#([^#]+)#$')
_NAMESPACE = re.compile(r'^_[^_]+_')
_PROBE = re.compile(r'^probe\d{2}[a-z]?$')


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open('rb') as fh:
        while chunk := fh.read(HASH_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _dataset_type(name: str) -> str | None:
    """``object.attribute`` of an ALF file name (namespace removed), None if not ALF."""
    parts = name.split('.')
    if len(parts) < 3 or not all(parts) or name.startswith('.'):
        return None
    return f'{_NAMESPACE.sub("", parts[0])}.{parts[1]}'


def _session_folders(root: Path) -> list[tuple[str, str, str, int, Path]]:
    found = []
    for number_dir in sorted(root.glob('*/Subjects/*/*/*')):
        lab, _, subject, day, number = number_dir.relative_to(root).parts
        if number_dir.is_dir() and _DATE.match(day) and _NUMBER.match(number):
            found.append((lab, subject, day, int(number), number_dir))
    return found


def scan(
    root: Path,
    *,
    seed: int = 0,
    task_protocol: str = '',
    projects: tuple[str, ...] = (),
    user: str = 'test_user',
    probe_model: str = '3B2',
) -> dict[str, list[dict[str, Any]]]:
    """Alyx records (by table) describing the ALF tree under ``root``.

    Parameters
    ----------
    root
        The folder holding ``<lab>/Subjects/...``.
    seed
        Seeds the UUIDs.
    task_protocol, projects, user, probe_model
        Values given to every session (and insertion) since folders do not record them.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a directory.
    """
    if not root.is_dir():
        raise FileNotFoundError(f'ALF root folder not found: {root}')
    rng = random.Random(seed)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    now = datetime(2000, 1, 1) + timedelta(days=rng.randrange(10_000))
    records: dict[str, list[dict[str, Any]]] = {
        'sessions': [],
        'datasets': [],
        'file_records': [],
        'data_repositories': [],
        'insertions': [],
        'dataset_types': [],
        'revisions': [],
    }
    labs: set[str] = set()
    types: set[str] = set()
    revisions: set[str] = set()
    for lab, subject, day, number, folder in _session_folders(root):
        labs.add(lab)
        eid = new_id()
        start = datetime.combine(date.fromisoformat(day), datetime.min.time())
        start += timedelta(hours=10, minutes=number)
        records['sessions'].append(
            {
                'id': eid,
                'subject': subject,
                'lab': lab,
                'start_time': start,
                'end_time': start + timedelta(hours=1),
                'number': number,
                'task_protocol': task_protocol,
                'projects': list(projects),
                'users': [user],
                'auto_datetime': now,
            }
        )
        probes: dict[str, str] = {}
        for path in sorted(p for p in folder.rglob('*') if p.is_file()):
            dataset_type = _dataset_type(path.name)
            if dataset_type is None:
                continue
            folders = list(path.parent.relative_to(folder).parts)
            revision = ''
            if folders and (match := _REVISION.match(folders[-1])):
                revision = match.group(1)
                folders = folders[:-1]
            if any(part.startswith('#') for part in folders):
                continue
            collection = '/'.join(folders)
            probe = next((part for part in folders if _PROBE.match(part)), None)
            if probe is not None and probe not in probes:
                probes[probe] = new_id()
                records['insertions'].append(
                    {
                        'id': probes[probe],
                        'session': eid,
                        'name': probe,
                        'model': probe_model,
                        'serial': str(rng.randrange(10**10, 10**11)),
                        'auto_datetime': now,
                    }
                )
            did = new_id()
            types.add(dataset_type)
            if revision:
                revisions.add(revision)
            records['datasets'].append(
                {
                    'id': did,
                    'session': eid,
                    'name': path.name,
                    'collection': collection,
                    'revision': revision,
                    'dataset_type': dataset_type,
                    'data_format': path.suffix.lstrip('.'),
                    'file_size': path.stat().st_size,
                    'hash': _md5(path),
                    'version': '1.0.0',
                    'qc': 0,
                    'default_dataset': True,
                    'probe_insertion': probes.get(probe) if probe else None,
                    'created_by': user,
                    'created_datetime': now,
                    'auto_datetime': now,
                }
            )
            records['file_records'].append(
                {
                    'id': new_id(),
                    'dataset': did,
                    'data_repository': f'flatiron_{lab}',
                    'relative_path': relative_path(
                        subject, day, number, collection, revision, path.name
                    ),
                    'exists': True,
                }
            )
    # Of the revisions of one dataset, the last (lexicographically, as ONE orders them) is default.
    latest: dict[tuple[str, str, str], str] = {}
    for dataset in records['datasets']:
        key = (dataset['session'], dataset['collection'], dataset['name'])
        latest[key] = max(latest.get(key, ''), dataset['revision'])
    for dataset in records['datasets']:
        key = (dataset['session'], dataset['collection'], dataset['name'])
        dataset['default_dataset'] = dataset['revision'] == latest[key]
    records['data_repositories'] = [
        {
            'name': f'flatiron_{lab}',
            'globus_path': f'/{lab}/Subjects/',
            'hostname': 'localhost',
            'repository_type': 'Fileserver',
        }
        for lab in sorted(labs)
    ]
    records['dataset_types'] = [
        {
            'id': new_id(),
            'name': name,
            'created_by': user,
            'description': '',
            'filename_pattern': f'*{name}*',
        }
        for name in sorted(types)
    ]
    records['revisions'] = [
        {'id': new_id(), 'name': name, 'description': '', 'created_datetime': now}
        for name in sorted(revisions)
    ]
    return records
