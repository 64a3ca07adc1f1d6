"""Vectorised UUID conversions, against ONE's own (iblutil) conversions."""

from __future__ import annotations

import uuid

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iblutil.io import parquet

from one_async.cache.uuids import (
    bytes_to_uuid_strings,
    int64_pairs_to_uuid_strings,
    random_uuid_bytes,
    uuid_strings_to_bytes,
    uuid_strings_to_int64_pairs,
)

uuids = st.lists(st.uuids(), min_size=0, max_size=40)


@settings(max_examples=50, deadline=None)
@given(uuids)
def test_round_trips_match_iblutil(values: list[uuid.UUID]) -> None:
    strings = [str(u) for u in values]
    series = pl.Series(strings, dtype=pl.String)
    assert bytes_to_uuid_strings(uuid_strings_to_bytes(series)).to_list() == strings
    low, high = uuid_strings_to_int64_pairs(series)
    if strings:
        expected = parquet.str2np(strings)
        assert low.tolist() == expected[:, 0].tolist()
        assert high.tolist() == expected[:, 1].tolist()
        assert int64_pairs_to_uuid_strings(low, high).to_list() == parquet.np2str(expected)
    upper = pl.Series([s.upper().replace('-', '') for s in strings], dtype=pl.String)
    assert bytes_to_uuid_strings(uuid_strings_to_bytes(upper)).to_list() == strings


def test_random_uuids_are_version_4() -> None:
    values = bytes_to_uuid_strings(random_uuid_bytes(np.random.default_rng(0), 100))
    assert {uuid.UUID(v).version for v in values} == {4}
    assert values.is_unique().all()


@pytest.mark.parametrize('bad', ['zz' * 16, 'abc', '0' * 31 + 'g'])
def test_invalid_strings_are_named(bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        uuid_strings_to_bytes(pl.Series(['0' * 32, bad]))
    with pytest.raises(ValueError, match='null'):
        uuid_strings_to_bytes(pl.Series(['0' * 32, None]))
