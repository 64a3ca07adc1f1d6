"""``one.alyx`` in sync code: the :class:`AlyxClient` facade, differential with ONE-api 2.9.0's
``AlyxClient`` on the same local Alyx over real sockets."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.remote.conftest import make_server, write_one_params
from one_async import ONE, One
from one_async.alyx import AsyncAlyxClient
from one_async.exceptions import AlyxEndpointError, InvalidArgument, SyncCallError
from one_async.sync import missing_declarations
from one_async.sync.alyx import AlyxClient
from one_async.sync.pagination import SyncPaginatedList
from one_async.testing.server import LocalAlyx

pytestmark = [
    # ONE 2.9.0's own pandas/numpy calls warn on current versions; they are ONE's, not ours.
    pytest.mark.filterwarnings('ignore::FutureWarning'),
    pytest.mark.filterwarnings('ignore::DeprecationWarning'),
]


@pytest.fixture(scope='module')
def alyx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlyx]:
    with make_server(tmp_path_factory.mktemp('alyx_data')) as server:
        yield server


@pytest.fixture
def one(alyx: LocalAlyx, home: Path, tmp_path: Path) -> Iterator[One]:
    cache_dir = tmp_path / 'ours'
    cache_dir.mkdir()
    write_one_params(alyx.info, cache_dir)
    session = ONE(**alyx.info.session_kwargs(), cache_dir=cache_dir, mode='remote')
    yield session
    session.close()
    ONE.cache_clear()  # type: ignore[attr-defined]


@pytest.fixture
def theirs(alyx: LocalAlyx, home: Path, tmp_path: Path) -> Any:
    """ONE-api 2.9.0's AlyxClient on the same server."""
    from one.webclient import AlyxClient as OneApiAlyxClient

    cache_dir = tmp_path / 'theirs'
    cache_dir.mkdir()
    write_one_params(alyx.info, cache_dir)
    info = alyx.info
    return OneApiAlyxClient(
        base_url=info.base_url,
        username=info.username,
        password=info.password,
        cache_dir=cache_dir,
        silent=True,
    )


def _records(value: Any) -> Any:
    """A list answer as a list (ONE's lazy list is a Mapping that iterates its records)."""
    return value if isinstance(value, dict) else list(value)


def test_every_async_method_is_declared() -> None:
    assert missing_declarations(AlyxClient) == []
    public = {
        name
        for name, member in inspect.getmembers(AsyncAlyxClient)
        if not name.startswith('_') and name != 'aclose'
    }
    assert public <= set(dir(AlyxClient)), public - set(dir(AlyxClient))


def test_rest_answers_as_one_api(alyx: LocalAlyx, one: One, theirs: Any) -> None:
    session = alyx.store.table('sessions').row(0, named=True)
    eid, subject = session['id'], session['subject']
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ('sessions', 'list', {}),
        ('sessions', 'list', {'subject': subject}),
        ('sessions', 'read', {'id': eid}),
        ('datasets', 'list', {'session': eid}),
        ('insertions', 'list', {'session': eid}),
        ('revisions', 'list', {}),
        ('data-repository', 'list', {}),
        ('dataset-types', 'list', {}),
        ('datasets', 'list', {}),
    ]
    for endpoint, action, kwargs in calls:
        expected = theirs.rest(endpoint, action, **kwargs)
        got = one.alyx.rest(endpoint, action, **kwargs)
        assert _records(got) == _records(expected), (endpoint, action, kwargs)
        assert len(got) == len(expected)
    assert sorted(one.alyx.list_endpoints()) == sorted(
        e for e in theirs.list_endpoints() if e not in ('api', 'docs')
    )


def test_a_long_list_is_lazy_and_indexable_in_sync_code(one: One, theirs: Any) -> None:
    expected = theirs.rest('datasets', 'list')
    got = one.alyx.rest('datasets', 'list')
    assert isinstance(got, SyncPaginatedList), 'the server pages this list: it must be lazy'
    assert len(got) == len(expected) > 300
    assert got.paginated.requests == 1, 'only the first page before any index'
    assert got[len(got) - 1] == expected[len(expected) - 1]
    assert got[-1] == expected[len(expected) - 1]
    assert got[5:300] == expected[5:300]
    assert got[0] in got
    with pytest.raises(IndexError):
        got[len(got)]
    with pytest.raises(TypeError, match="'name'"):  # as a list (ONE's lazy list: an error too)
        got['name']  # type: ignore[call-overload]
    names = [d['name'] for d in got]
    assert names == [d['name'] for d in expected]
    assert got.map(lambda d: d['name'])[:3] == [d['name'] for d in expected[:3]]


def test_a_lazy_list_passed_back_is_read_in_full(one: One) -> None:
    eids = one.search(query_type='remote')
    assert isinstance(eids, SyncPaginatedList)
    assert one.eid2path(eids) == one.eid2path(list(eids))
    assert [d['subject'] for d in one.get_details(eids)] == [
        d['subject'] for d in one.get_details(list(eids))
    ]
    report = one.download(eids, datasets='*trials.intervals*')
    assert report.failed == []
    assert report.downloaded > 0
    details = one.search(query_type='remote', details=True)
    assert isinstance(details, tuple)
    assert len(details) == 2
    assert [d['id'] for d in details[1]] == list(eids)


def test_one_alyx_shares_the_session_loop_and_closes_with_it(one: One) -> None:
    client = one.alyx
    assert client is one.alyx
    assert client.portal is one.portal
    assert client.user == one.alyx.user
    assert client.base_url == one.base_url
    client.close()
    assert one.alyx is not client, 'a closed facade is never handed out again'
    assert len(one.alyx.rest('sessions', 'list')) == len(one.search(query_type='remote'))
    one.close()
    with pytest.raises(SyncCallError):
        one.alyx.rest('sessions', 'list')


def test_standalone_client_and_its_endpoint_views(alyx: LocalAlyx, home: Path) -> None:
    info = alyx.info
    with AlyxClient(info.base_url, info.username, info.password, cache_rest=False) as client:
        assert client.is_logged_in is False
        client.authenticate()
        assert client.is_logged_in
        schemes = client.rest_schemes
        assert schemes['sessions']['list']['action'] == 'get'
        assert 'subject' in {f['name'] for f in schemes['sessions']['list']['fields']}
        with pytest.raises(AlyxEndpointError, match='not_an_endpoint'):
            client.rest('not_an_endpoint', 'list')
        records = list(client.iter_rest('sessions'))
        assert [r['id'] for r in records] == [r['id'] for r in client.rest('sessions', 'list')]
    assert client.closed
    with pytest.raises(SyncCallError):
        client.rest('sessions', 'list')


def test_print_endpoint_info_prints_and_returns_the_scheme(
    one: One, capsys: pytest.CaptureFixture[str]
) -> None:
    scheme = one.alyx.print_endpoint_info('sessions', 'list')
    out = capsys.readouterr().out
    assert 'list' in out
    assert 'subject' in out
    assert scheme is not None
    assert scheme['action'] == 'get'
    everything = one.alyx.print_endpoint_info('sessions')
    assert everything is not None
    assert {'list', 'read'} <= set(everything)


def test_no_cache_applies_to_the_calls_of_the_block(one: One) -> None:
    client = one.alyx
    rest_dir = Path(str(client.cache_dir)) / '.rest'

    def entries() -> list[Path]:
        return [p for p in rest_dir.iterdir() if p.is_file()] if rest_dir.is_dir() else []

    client.schema()
    client.clear_rest_cache()
    with client.no_cache():
        client.rest('revisions', 'list')
    assert entries() == [], 'nothing cached inside no_cache()'
    client.rest('revisions', 'list')
    assert len(entries()) == 1, 'cached again after the block'


def test_download_file_and_rel_path2url_as_one_api(
    alyx: LocalAlyx, one: One, theirs: Any, tmp_path: Path
) -> None:
    session = alyx.store.table('sessions').row(0, named=True)
    records = _records(one.alyx.rest('datasets', 'list', session=session['id']))
    urls = [fr['data_url'] for r in records for fr in r['file_records'] if fr.get('data_url')][:3]
    assert len(urls) == 3
    server = alyx.info.data_server_url.rstrip('/')
    rel = urls[0][len(server) + 1 :]
    assert one.alyx.rel_path2url(rel) == theirs.rel_path2url(rel) == urls[0]
    assert one.alyx.rel_path2url(f'/{rel}/') == theirs.rel_path2url(f'/{rel}/')

    def downloads(client: Any, folder: str) -> dict[str, Any]:
        target = tmp_path / folder
        for sub in ('rel', 'md5'):  # ONE-api writes into existing folders only
            (target / sub).mkdir(parents=True, exist_ok=True)
        return {
            'one': client.download_file(urls[0], target_dir=target),
            'list': client.download_file(urls[1:], target_dir=target),
            'relative': client.download_file(rel, target_dir=target / 'rel'),
            'md5': client.download_file(urls[1], target_dir=target / 'md5', return_md5=True),
        }

    ours, expected = downloads(one.alyx, 'dl_ours'), downloads(theirs, 'dl_theirs')

    def relative(value: Any, folder: str) -> Any:
        """Paths made relative to the client's folder, md5s as they are, shapes kept."""
        if isinstance(value, Path):
            assert value.is_file()
            return value.relative_to(tmp_path / folder).as_posix()
        if isinstance(value, str):
            return value
        return type(value)(relative(v, folder) for v in value)

    assert {k: relative(v, 'dl_ours') for k, v in ours.items()} == {
        k: relative(v, 'dl_theirs') for k, v in expected.items()
    }
    placed = [p for p in (tmp_path / 'dl_ours').rglob('*') if p.is_file()]
    assert len(placed) == 5  # 1 + 2 + the relative one + the md5 one
    for path in placed:
        twin = tmp_path / 'dl_theirs' / path.relative_to(tmp_path / 'dl_ours')
        assert path.read_bytes() == twin.read_bytes()
    # Not on the data server, or not a relative path: ONE asserts, we raise a typed error.
    with pytest.raises(InvalidArgument, match='not on the data server'):
        one.alyx.download_file('https://elsewhere.example.org/x.npy', target_dir=tmp_path)
    with pytest.raises(InvalidArgument, match='relative path'):
        one.alyx.rel_path2url(urls[0])
