"""Aggregate datasets (data over subjects, projects, tags...): ``list_aggregates`` and
``load_aggregate``, as ONE-api 2.9.0's.

Aggregates are Alyx datasets without a session, stored under an ``aggregates`` folder:
``aggregates/<Relation>/<identifier...>/<file>`` (``aggregates/Subjects/cortexlab/KS005/
_ibl_subjectTraining.table.pqt``).  The relation is the folder after ``aggregates``; the
identifier the folders after the relation.  They are not in the cache tables, so they are
listed from Alyx each time, and their files are checked and fetched like any dataset (from S3
when their file records say so).
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from one_async.alf.io import aload_file_content
from one_async.alf.path import rel_path_parts
from one_async.exceptions import ALFObjectNotFound

from ..filters import apply_filter, build_filter
from ..terms import compile_pattern
from .download import RemoteLoading
from .records import as_paginated, dataset_rows, record_uuid

__all__ = ['RemoteAggregates']

AGGREGATE_COLUMNS: Final = (
    'did',
    'file_size',
    'hash',
    'exists',
    'session_path',
    'rel_path',
    'default_revision',
    'qc',
    'relation',
    'identifier',
    'exists_aws',
)
"""The columns of ``list_aggregates`` (ONE's, its ``did`` index first), then ``revision``."""


def _relation(rel_path: str) -> str:
    """The folder after ``aggregates`` (ONE: ``split('aggregates')[-1].split('/')[1]``)."""
    parts = rel_path.split('aggregates')[-1].split('/')
    return parts[1].lower() if len(parts) > 1 else ''


def _identifier(rel_path: str, relation: str) -> str:
    """The collection folders after the relation folder."""
    collection = rel_path_parts(rel_path, assert_valid=False)[0] or ''
    parts = collection.split('/')
    lower = [p.lower() for p in parts]
    if relation.lower() not in lower:
        return ''
    return '/'.join(parts[lower.index(relation.lower()) + 1 :])


class RemoteAggregates(RemoteLoading):
    """``list_aggregates`` and ``load_aggregate``."""

    async def _aggregate_rows(
        self,
        relation: str,
        identifier: str | None,
        dataset: Any,
        revision: Any,
        assert_unique: bool,
    ) -> pl.DataFrame:
        self._require_server('list_aggregates')
        records = await as_paginated(
            await self.alyx.rest('datasets', 'list', django='session__isnull,True')
        ).to_list()
        aws = {
            record_uuid(r['url']): any(
                str(fr.get('data_repository', '')).startswith('aws') and bool(fr.get('exists'))
                for fr in r.get('file_records') or []
            )
            for r in records
        }
        rows = dataset_rows(records)
        paths = rows.get_column('rel_path').to_list()
        relations = [_relation(p) for p in paths]
        rows = rows.with_columns(
            pl.Series('relation', relations, dtype=pl.String),
            pl.Series(
                'identifier',
                [_identifier(p, r) for p, r in zip(paths, relations, strict=True)],
                dtype=pl.String,
            ),
            pl.Series('exists_aws', [aws.get(i, False) for i in rows['id']], dtype=pl.Boolean),
        ).filter(pl.col('relation') == relation.lower())
        if identifier is not None and rows.height:
            test = compile_pattern(identifier).search
            rows = rows.filter(
                pl.Series([test(v) is not None for v in rows['identifier'].to_list()])
            )
        filt = build_filter(dataset, None, revision, assert_unique=assert_unique, wildcards=True)
        return apply_filter(rows, filt, has_default=True)

    async def list_aggregates(
        self,
        relation: str,
        identifier: str | None = None,
        dataset: Any = None,
        revision: Any = None,
        assert_unique: bool = False,
    ) -> pl.DataFrame:
        """Datasets aggregated over a relation (e.g. 'subjects', 'tags'), as ONE's.

        Parameters
        ----------
        relation
            The folder after ``aggregates`` (case-insensitive).
        identifier
            A regular expression searched in the identifier (``lab/subject`` for subjects).
        dataset
            File name pattern(s) (shell wildcards) or a dict of ALF parts.
        revision
            The revision wanted (the last one up to it; the default one when None).
        assert_unique
            Raise when several datasets or collections match.

        Returns
        -------
        polars.DataFrame
            ``did`` then ONE's columns (``relation``, ``identifier``, ``exists_aws`` ...).

        Raises
        ------
        LocalModeError
            In 'local' mode.
        """
        rows = await self._aggregate_rows(relation, identifier, dataset, revision, assert_unique)
        extra = ['revision'] if 'revision' in rows.columns else []
        return rows.rename({'id': 'did'}).select(*AGGREGATE_COLUMNS, *extra)

    async def load_aggregate(
        self,
        relation: str,
        identifier: str,
        dataset: Any = None,
        revision: Any = None,
        download_only: bool = False,
    ) -> Any:
        """Load one aggregate dataset (downloading it if needed), as ONE's ``load_aggregate``.

        Returns
        -------
        Any
            The content (a polars DataFrame for tables ...), or the file with
            ``download_only``.

        Raises
        ------
        ALFObjectNotFound
            No such aggregate, or its file could not be fetched.
        ALFMultipleObjectsFound, ALFMultipleCollectionsFound
            The filters match several datasets.
        """
        if self.wildcards and isinstance(dataset, str) and len(dataset.split('.')) == 2:
            dataset += '.*'
        rows = await self._aggregate_rows(relation, identifier, dataset, revision, True)
        if rows.height == 0:
            raise ALFObjectNotFound(
                f'{dataset or "dataset"} not found for {relation}/{identifier}',
                value=f'{relation}/{identifier}',
            )
        check = await self._check_filesystem(rows, update_exists=False)
        file = check.files[0]
        if not file:
            raise ALFObjectNotFound('Dataset file not found on disk', value=rows['rel_path'][0])
        return file if download_only else await aload_file_content(file)
