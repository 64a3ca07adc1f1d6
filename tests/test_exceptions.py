"""The exception tree: ONE-compatible names, values carried, secrets kept out."""

from __future__ import annotations

import pytest

from one_async import (
    ALFError,
    ALFInvalid,
    ALFObjectNotFound,
    AlyxHTTPError,
    InvalidArgument,
    OneError,
)


def test_message_carries_value_and_explanation() -> None:
    err = ALFObjectNotFound('object "trials" not found', value='trials')
    assert err.value == 'trials'
    assert 'trials' in str(err)
    assert ALFObjectNotFound.explanation in str(err)
    assert str(ALFObjectNotFound('x', terse=True)) == 'x'


def test_several_items_are_quoted_like_one() -> None:
    assert str(ALFError('a/b', 'c/d')) == '"a/b", "c/d"'


@pytest.mark.parametrize('cls', [ALFInvalid, InvalidArgument])
def test_argument_errors_are_value_errors(cls: type[OneError]) -> None:
    with pytest.raises(ValueError, match='bad'):
        raise cls('bad value', value='bad')


def test_http_error_keeps_status_and_url() -> None:
    err = AlyxHTTPError('GET failed', status_code=503, url='http://h/sessions')
    assert (err.status_code, err.url, err.value) == (503, 'http://h/sessions', 'http://h/sessions')
    assert isinstance(err, OneError)
