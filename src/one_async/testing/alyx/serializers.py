"""JSON representations of the store's records, field for field as Alyx 3.6.1 answers them.

Key order, nesting and value types follow the responses captured from a real Alyx 3.6.1 server
(``tests/fixtures/alyx_3_6_1``): hyperlinks are absolute URLs built on the request's base URL,
QC codes are names except in an insertion's dataset list (where Alyx gives the integer), and a
file record's ``data_url`` is its repository URL plus the relative path with the dataset UUID
inserted before the extension.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from .tables import QC_NAMES

__all__ = ['Serializer', 'add_uuid', 'to_json']


def add_uuid(path: str, uuid: str) -> str:
    """Insert ``uuid`` before the extension of the file name ending ``path``."""
    head, sep, name = path.rpartition('/')
    stem, dot, ext = name.rpartition('.')
    named = f'{stem}.{uuid}.{ext}' if dot else f'{name}.{uuid}'
    return f'{head}{sep}{named}'


def _iso(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def to_json(data: Any) -> bytes:
    """Compact JSON, as Django REST framework renders it."""
    return json.dumps(data, separators=(',', ':'), ensure_ascii=False, default=_iso).encode()


@dataclass
class Serializer:
    """Builds responses from a snapshot of the store's tables for one request."""

    tables: dict[str, pl.DataFrame]
    base_url: str

    def url(self, endpoint: str, key: str) -> str:
        return f'{self.base_url}/{endpoint}/{key}'

    # --- helpers over related tables ---------------------------------------------------------

    def _rows_by(
        self, table: str, column: str, keys: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        frame = self.tables[table]
        found = frame.filter(pl.col(column).is_in(list(keys)))
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in found.iter_rows(named=True):
            grouped[row[column]].append(row)
        return grouped

    def _sessions(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {
            row['id']: row
            for rows in self._rows_by('sessions', 'id', keys).values()
            for row in rows
        }

    def _repositories(self) -> dict[str, dict[str, Any]]:
        return {row['name']: row for row in self.tables['data_repositories'].iter_rows(named=True)}

    def _file_records(self, dataset_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Nested file records (``DatasetFileRecords``) by dataset id."""
        repos = self._repositories()
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for did, records in self._rows_by('file_records', 'dataset', dataset_ids).items():
            for fr in records:
                repo = repos.get(fr['data_repository'], {})
                root = repo.get('data_url')
                out[did].append(
                    {
                        'id': fr['id'],
                        'data_repository': fr['data_repository'],
                        'data_repository_path': repo.get('globus_path'),
                        'relative_path': fr['relative_path'],
                        'data_url': root + add_uuid(fr['relative_path'], did) if root else None,
                        'exists': fr['exists'],
                    }
                )
        return out

    @staticmethod
    def _server_records(
        records: list[dict[str, Any]], repos: dict[str, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The existing file records on server (not personal) repositories."""
        return [
            fr
            for fr in records
            if fr['exists']
            and fr['data_repository'] in repos
            and not repos[fr['data_repository']]['globus_is_personal']
        ]

    def _session_info(self, session: dict[str, Any] | None) -> dict[str, Any] | None:
        if session is None:
            return None
        return {
            'subject': session['subject'],
            'start_time': _iso(session['start_time']),
            'number': session['number'],
            'lab': session['lab'],
            'id': session['id'],
            'projects': session['projects'],
            'task_protocol': session['task_protocol'],
        }

    # --- sessions ----------------------------------------------------------------------------

    def session_list(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                'id': s['id'],
                'subject': s['subject'],
                'start_time': _iso(s['start_time']),
                'number': s['number'],
                'lab': s['lab'],
                'projects': s['projects'],
                'url': self.url('sessions', s['id']),
                'task_protocol': s['task_protocol'],
            }
            for s in rows
        ]

    def _on_server(
        self, datasets: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The datasets with an existing file on a server repository, and their data URLs.

        Alyx lists only those among a session's (or insertion's) datasets.
        """
        records = self._file_records(d['id'] for d in datasets)
        repos = self._repositories()
        kept, urls = [], {}
        for dataset in datasets:
            server = self._server_records(records.get(dataset['id'], []), repos)
            if server:
                kept.append(dataset)
                urls[dataset['id']] = next(
                    (fr['data_url'] for fr in server if fr['data_url']), None
                )
        return kept, urls

    def _session_datasets(self, eid: str) -> list[dict[str, Any]]:
        everything = self.tables['datasets'].filter(pl.col('session') == eid).to_dicts()
        datasets, urls = self._on_server(everything)
        return [
            {
                'id': d['id'],
                'name': d['name'],
                'dataset_type': d['dataset_type'],
                'data_url': urls[d['id']],
                'url': self.url('datasets', d['id']),
                'file_size': d['file_size'],
                'hash': d['hash'],
                'version': d['version'],
                'collection': d['collection'],
                'revision': d['revision'],
                'default_revision': str(bool(d['default_dataset'])),
                'qc': QC_NAMES.get(d['qc'], str(d['qc'])),
            }
            for d in datasets
        ]

    def session_detail(self, s: dict[str, Any]) -> dict[str, Any]:
        insertions = self.tables['insertions'].filter(pl.col('session') == s['id']).to_dicts()
        parent = s['parent_session']
        return {
            'subject': s['subject'],
            'users': s['users'],
            'location': s['location'],
            'procedures': s['procedures'],
            'lab': s['lab'],
            'projects': s['projects'],
            'type': s['type'],
            'task_protocol': s['task_protocol'],
            'number': s['number'],
            'start_time': _iso(s['start_time']),
            'end_time': _iso(s['end_time']),
            'narrative': s['narrative'],
            'parent_session': self.url('sessions', parent) if parent else None,
            'n_correct_trials': s['n_correct_trials'],
            'n_trials': s['n_trials'],
            'url': self.url('sessions', s['id']),
            'extended_qc': _json(s['extended_qc']),
            'qc': QC_NAMES.get(s['qc'], str(s['qc'])),
            'wateradmin_session_related': [],
            'data_dataset_session_related': self._session_datasets(s['id']),
            'auto_datetime': _iso(s['auto_datetime']),
            'id': s['id'],
            'json': _json(s['json']),
            'probe_insertion': self.insertion_list(insertions),
            'field_of_view': [],
            'notes': [],
        }

    # --- datasets and files ------------------------------------------------------------------

    def dataset_list(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records = self._file_records(d['id'] for d in rows)
        sessions = self._sessions({d['session'] for d in rows if d['session']})
        out = []
        for d in rows:
            session = sessions.get(d['session']) if d['session'] else None
            out.append(
                {
                    'url': self.url('datasets', d['id']),
                    'name': d['name'],
                    'created_by': d['created_by'],
                    'created_datetime': _iso(d['created_datetime']),
                    'dataset_type': d['dataset_type'],
                    'data_format': d['data_format'],
                    'collection': d['collection'],
                    'session': self.url('sessions', d['session']) if d['session'] else None,
                    'file_size': d['file_size'],
                    'hash': d['hash'],
                    'version': d['version'],
                    'experiment_number': session['number'] if session else None,
                    'file_records': records.get(d['id'], []),
                    'auto_datetime': _iso(d['auto_datetime']),
                    'revision': d['revision'],
                    'default_dataset': d['default_dataset'],
                    'protected': int(bool(d['protected'])),
                    'public': int(bool(d['public'])),
                    'tags': d['tags'],
                    'qc': QC_NAMES.get(d['qc'], str(d['qc'])),
                    'json': _json(d['json']),
                }
            )
        return out

    def dataset_detail(self, row: dict[str, Any]) -> dict[str, Any]:
        return self.dataset_list([row])[0]

    def file_list(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                'url': self.url('files', fr['id']),
                'dataset': self.url('datasets', fr['dataset']),
                'data_repository': fr['data_repository'],
                'name': fr['name'],
                'json': _json(fr['json']),
                'relative_path': fr['relative_path'],
                'exists': fr['exists'],
            }
            for fr in rows
        ]

    def file_detail(self, row: dict[str, Any]) -> dict[str, Any]:
        return self.file_list([row])[0]

    # --- insertions --------------------------------------------------------------------------

    def insertion_list(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sessions = self._sessions({p['session'] for p in rows if p['session']})
        datasets = self._rows_by('datasets', 'probe_insertion', [p['id'] for p in rows])
        return [
            {
                'id': p['id'],
                'session': p['session'],
                'model': p['model'],
                'session_info': self._session_info(sessions.get(p['session'])),
                'name': p['name'],
                'json': _json(p['json']),
                'serial': p['serial'],
                'auto_datetime': _iso(p['auto_datetime']),
                'chronic_insertion': p['chronic_insertion'],
                'datasets': [d['id'] for d in datasets.get(p['id'], [])],
            }
            for p in rows
        ]

    def insertion_detail(self, p: dict[str, Any]) -> dict[str, Any]:
        sessions = self._sessions([p['session']] if p['session'] else [])
        everything = self._rows_by('datasets', 'probe_insertion', [p['id']]).get(p['id'], [])
        datasets, urls = self._on_server(everything)
        return {
            'id': p['id'],
            'session': p['session'],
            'model': p['model'],
            'session_info': self._session_info(sessions.get(p['session'])),
            'datasets': [
                {
                    'id': d['id'],
                    'name': d['name'],
                    'dataset_type': d['dataset_type'],
                    'data_url': urls[d['id']],
                    'url': self.url('datasets', d['id']),
                    'file_size': d['file_size'],
                    'hash': d['hash'],
                    'version': d['version'],
                    'collection': d['collection'],
                    'qc': d['qc'],
                }
                for d in datasets
            ],
            'name': p['name'],
            'json': _json(p['json']),
            'serial': p['serial'],
            'auto_datetime': _iso(p['auto_datetime']),
            'chronic_insertion': p['chronic_insertion'],
        }

    # --- small models ------------------------------------------------------------------------

    def dataset_type(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            'id': row['id'],
            'name': row['name'],
            'created_by': row['created_by'],
            'description': row['description'],
            'filename_pattern': row['filename_pattern'],
        }

    def revision(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            'id': row['id'],
            'json': _json(row['json']),
            'name': row['name'],
            'description': row['description'],
            'created_datetime': _iso(row['created_datetime']),
        }

    def data_repository(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            'name': row['name'],
            'timezone': row['timezone'],
            'globus_path': row['globus_path'],
            'hostname': row['hostname'],
            'data_url': row['data_url'],
            'repository_type': row['repository_type'],
            'globus_endpoint_id': row['globus_endpoint_id'],
            'globus_is_personal': row['globus_is_personal'],
            'json': _json(row['json']),
        }
