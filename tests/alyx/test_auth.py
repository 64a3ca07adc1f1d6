"""Authentication: token exchange, on-disk token cache, re-login, secrets kept out of sight."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest

from one_async.alyx import AsyncAlyxClient, TokenStore
from one_async.exceptions import AlyxAuthError, AlyxHTTPError, InvalidArgument

from .conftest import PASSWORD, USER, FakeAlyx

pytestmark = pytest.mark.anyio


async def test_login_sends_token_on_every_request(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        assert not client.is_logged_in
        records = await client.rest('sessions', 'list', no_cache=True)
        assert client.is_logged_in
        detail = await client.rest('sessions', 'read', id=records[0]['id'])
    assert detail['id'] == records[0]['id']
    assert alyx.state.logins == 1
    assert alyx.state.requests('POST', '/auth-token') == [('/auth-token', '')]


async def test_token_cached_on_disk_with_mode_0600(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    async with make_client() as client:
        await client.authenticate()
    files = list((tmp_path / 'tokens').iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / 'tokens').stat().st_mode) == 0o700
    content = json.loads(files[0].read_text())
    assert content['TOKEN'][USER]['token'] == alyx.state.tokens[USER]
    assert not list((tmp_path / 'tokens').glob('*.tmp'))

    # A later client without password logs in with the cached token.
    async with make_client(password=None) as client:
        assert await client.rest('sessions', 'list', no_cache=True)
    assert alyx.state.logins == 1


async def test_password_forces_a_new_token_exchange(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        await client.authenticate()
        await client.authenticate(password=PASSWORD)
    assert alyx.state.logins == 2


async def test_bad_password_raises_auth_error_without_secret(
    alyx: FakeAlyx, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = 'wrong-Secret-Pa55'
    async with make_client(password=secret) as client:
        with pytest.raises(AlyxAuthError) as info:
            await client.rest('sessions', 'list')
        assert secret not in repr(client)
    assert USER in str(info.value)
    assert secret not in str(info.value)
    assert secret not in repr(info.value)
    assert secret not in caplog.text
    assert alyx.state.requests('GET', '/sessions') == []


async def test_missing_password_and_token_raises_without_prompt(
    alyx: FakeAlyx, make_client: Any
) -> None:
    async with make_client(password=None) as client:
        with pytest.raises(AlyxAuthError, match=USER):
            await client.rest('sessions', 'list')
    assert alyx.state.log == []  # nothing was sent


async def test_anonymous_request_is_an_auth_error(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client(username=None, password=None) as client:
        with pytest.raises(AlyxAuthError, match='needs authentication'):
            await client.get('sessions')


async def test_expired_token_relogs_once_and_retries(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        first = await client.rest('sessions', 'list', no_cache=True)
        old = alyx.state.tokens[USER]
        alyx.state.invalidate_tokens()  # the server forgets the token mid-session
        again = await client.rest('sessions', 'list', no_cache=True)
    assert again == first
    assert alyx.state.logins == 2
    assert alyx.state.tokens[USER] != old
    # list, rejected list, list again: three GETs, one re-login
    assert len(alyx.state.requests('GET', '/sessions')) == 3


async def test_concurrent_rejections_relog_only_once(alyx: FakeAlyx, make_client: Any) -> None:
    import anyio

    async with make_client() as client:
        await client.authenticate()
        alyx.state.invalidate_tokens()
        results: list[Any] = []

        async def one() -> None:
            results.append(await client.rest('sessions', 'list', no_cache=True))

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one)
    assert len(results) == 8
    assert alyx.state.logins == 2


async def test_stale_cached_token_without_password_raises(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    async with make_client() as client:
        await client.authenticate()
    alyx.state.invalidate_tokens()
    async with make_client(password=None) as client:
        with pytest.raises(AlyxAuthError, match='no password'):
            await client.rest('sessions', 'list', no_cache=True)
    # the rejected token was removed from the disk cache
    store = TokenStore(tmp_path / 'tokens')
    assert await store.get(alyx.url, USER) is None


async def test_token_rejected_again_after_relogin_raises(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client(password=None, token='0' * 40, cache_token=False) as client:
        with pytest.raises(AlyxAuthError):
            await client.rest('sessions', 'list', no_cache=True)
    assert alyx.state.logins == 0


async def test_given_token_is_used(alyx: FakeAlyx, make_client: Any) -> None:
    token = 'a' * 40
    alyx.state.tokens[USER] = token
    async with make_client(password=None, token=token) as client:
        assert client.is_logged_in
        assert await client.rest('sessions', 'list', no_cache=True)
        assert token not in repr(client)
    assert alyx.state.logins == 0


async def test_logout_clears_token_and_rest_cache(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    async with make_client() as client:
        await client.rest('sessions', 'list')
        assert list((tmp_path / 'cache' / '.rest').iterdir())
        await client.logout()
        assert not client.is_logged_in
        assert not list((tmp_path / 'cache' / '.rest').iterdir())
        with pytest.raises(AlyxAuthError):  # the password is forgotten too
            await client.rest('sessions', 'list')
    assert await TokenStore(tmp_path / 'tokens').get(alyx.url, USER) is None


async def test_secrets_absent_from_repr_logs_and_errors(
    alyx: FakeAlyx, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    async with make_client(silent=False) as client:
        await client.rest('sessions', 'list', no_cache=True)
        token = alyx.state.tokens[USER]
        with pytest.raises(AlyxHTTPError) as info:
            await client.rest('sessions', 'read', id='00000000-0000-0000-0000-000000000000')
        alyx.state.invalidate_tokens()
        await client.rest('sessions', 'list', no_cache=True)
        new_token = alyx.state.tokens[USER]
        text = ' '.join(
            [repr(client), str(client), str(info.value), repr(info.value), caplog.text]
        )
    assert info.value.status_code == 404
    assert info.value.detail == 'No Session matches the given query.'
    for secret in (PASSWORD, token, new_token):
        assert secret not in text
    assert 'Connected to' in caplog.text  # logging did happen


async def test_credentials_in_url_are_dropped(alyx: FakeAlyx, make_client: Any) -> None:
    with_userinfo = alyx.url.replace('http://', f'http://{USER}:{PASSWORD}@')
    async with make_client(base_url=with_userinfo) as client:
        assert PASSWORD not in client.base_url
        assert PASSWORD not in repr(client)


async def test_bad_base_url() -> None:
    with pytest.raises(InvalidArgument, match='ftp://x'):
        AsyncAlyxClient('ftp://x')


async def test_requests_to_another_host_refused(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        with pytest.raises(InvalidArgument, match='not on the Alyx server'):
            await client.get('http://example.invalid/sessions')
    assert alyx.state.log == []


async def test_prompts_only_when_interactive(
    alyx: FakeAlyx, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = '') -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr('one_async.alyx.client.getpass.getpass', fake_getpass)
    async with make_client(password=None, cache_token=False) as client:
        with pytest.raises(AlyxAuthError):
            await client.authenticate()
    assert prompts == []
    async with make_client(password=None, interactive=True, silent=False) as client:
        assert await client.rest('sessions', 'list')
    assert len(prompts) == 1
    assert USER in prompts[0]
