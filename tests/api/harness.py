"""Differential harness: the same call through ONE-api 2.9.0 (``one.api.One``) and AsyncOne.

Results are compared as values: pandas and polars tables as (columns, records) with ONE's
index turned into leading columns, Series as dicts, NaN as None, numpy scalars as Python ones.
Exceptions must be of the same kind (ALF errors by name; ValueError, TypeError, re.error by
class), with a few documented mappings (:data:`EXCEPTION_MAP`).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from one_async.api import AsyncOne
from one_async.exceptions import OneError

# ONE raises these where one_async raises a typed error of its own (documented deviations).
EXCEPTION_MAP: dict[str, tuple[type[BaseException], ...]] = {
    'KeyError': (ValueError,),  # unknown ALF part in a filter dict -> InvalidArgument
    'AssertionError': (OneError,),  # failed asserts -> typed errors
}


def norm(value: Any) -> Any:
    """A comparable form of a result."""
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index() if _has_index(value) else value
        return ('table', list(frame.columns), [norm(r) for r in frame.to_dict('records')])
    if isinstance(value, pl.DataFrame):
        return ('table', value.columns, [norm(r) for r in value.to_dicts()])
    if isinstance(value, pd.Series):
        return {k: norm(v) for k, v in value.to_dict().items()}
    if isinstance(value, Mapping):
        return {k: norm(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    if isinstance(value, np.ndarray):
        return ('array', value.dtype.kind, value.tolist())
    if isinstance(value, np.generic):
        return norm(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (str, int, bool, date, datetime)) or value is None:
        return value
    return value


def _has_index(frame: pd.DataFrame) -> bool:
    return not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None


def same_exception(expected: BaseException, got: BaseException) -> bool:
    """Whether one_async raised the same kind of error as ONE."""
    name = type(expected).__name__
    if name.startswith('ALF'):
        return type(got).__name__ == name or (
            name == 'ALFError' and type(got).__name__.startswith('ALF')
        )
    if name in EXCEPTION_MAP:
        return isinstance(got, EXCEPTION_MAP[name])
    for kind in (re.error, TypeError, ValueError):
        if isinstance(expected, kind):
            return isinstance(got, kind)
    return isinstance(got, type(expected))


class Outcome:
    """A result or an exception."""

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    def __repr__(self) -> str:
        return f'Outcome(error={self.error!r})' if self.error else f'Outcome({self.value!r})'


def call_one(one: Any, method: str, *args: Any, **kwargs: Any) -> Outcome:
    """Call ONE, silencing its log output and warnings (compared separately)."""
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return Outcome(getattr(one, method)(*args, **kwargs))
    except Exception as exc:
        return Outcome(error=exc)
    finally:
        logging.disable(logging.NOTSET)


async def call_async(one: AsyncOne, method: str, *args: Any, **kwargs: Any) -> Outcome:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return Outcome(await getattr(one, method)(*args, **kwargs))
    except Exception as exc:
        return Outcome(error=exc)


def assert_same(expected: Outcome, got: Outcome, context: str = '') -> None:
    """Assert that both outcomes agree (same error kind, or equal values)."""
    if expected.error is not None:
        assert got.error is not None, (
            f'{context}: ONE raised {expected.error!r}, got {got.value!r}'
        )
        assert same_exception(expected.error, got.error), (
            f'{context}: ONE raised {expected.error!r}, one_async {got.error!r}'
        )
        return
    if got.error is not None:
        raise AssertionError(f'{context}: ONE returned, one_async raised {got.error!r}') from (
            got.error
        )
    assert norm(got.value) == norm(expected.value), f'{context}: results differ'


async def compare(one: Any, aone: AsyncOne, method: str, *args: Any, **kwargs: Any) -> Outcome:
    """Run ``method`` on both clients and assert they agree; return ONE's outcome."""
    expected = call_one(one, method, *args, **kwargs)
    got = await call_async(aone, method, *args, **kwargs)
    assert_same(expected, got, f'{method}{args}{kwargs}')
    return expected


def paths_equal(expected: Any, got: Any) -> bool:
    """File lists compared as sets of strings (ONE's order is not defined for some calls)."""
    return sorted(map(str, expected)) == sorted(map(str, got))


def arrays_equal(expected: Any, got: Any) -> bool:
    """Loaded data compared by value: arrays, tables (pandas vs polars), dicts and lists."""
    if isinstance(expected, pd.DataFrame):
        if not isinstance(got, pl.DataFrame) or list(expected.columns) != got.columns:
            return False
        return all(arrays_equal(expected[c].to_numpy(), got[c].to_numpy()) for c in got.columns)
    if isinstance(expected, pd.Series):
        values = got.to_numpy() if isinstance(got, pl.Series) else np.asarray(got)
        return arrays_equal(expected.to_numpy(), values)
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray) or expected.shape != got.shape:
            return False
        if expected.dtype.kind in 'fiub' and got.dtype.kind in 'fiub':
            # pandas and polars parse text floats differently in the last bit
            left, right = expected.astype(float), got.astype(float)
            return bool(np.allclose(left, right, rtol=1e-12, atol=0.0, equal_nan=True))
        return np.array_equal(expected, got)
    if isinstance(expected, Mapping):
        return set(expected) == set(got) and all(
            arrays_equal(expected[k], got[k]) for k in expected
        )
    if isinstance(expected, (list, tuple)):
        return len(expected) == len(got) and all(
            arrays_equal(a, b) for a, b in zip(expected, got, strict=True)
        )
    if isinstance(expected, Path):
        return str(expected) == str(got)
    return bool(expected == got)
