"""Start a local Alyx with its data server, for tests, demos and offline pipelines.

:class:`LocalAlyx` serves an :class:`~one_async.testing.alyx.store.AlyxStore` (built from an ALF
folder, from the shared data generator, or given) on a free loopback port, and the files of its
data folder on another one behind HTTP Basic auth, both in background threads::

    with LocalAlyx.from_alf_folder('/data/alf') as alyx:
        info = alyx.info  # base_url, username, password, data_server_url, ..., cache_dir
        ...

:func:`local_alyx_fixture` makes a pytest fixture of it.  ``python -m one_async.testing`` runs
one in the foreground.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .alyx.app import AlyxApp, AlyxConfig
from .alyx.dataserver import create_data_server
from .alyx.store import AlyxStore
from .faults import FaultInjector, Faults
from .runner import serve_in_thread

__all__ = [
    'DATA_SERVER_LOGIN',
    'DATA_SERVER_PASSWORD',
    'ConnectionInfo',
    'LocalAlyx',
    'local_alyx_fixture',
]

DATA_SERVER_LOGIN = 'test_data'
DATA_SERVER_PASSWORD = 'local-data-password'


class ConnectionInfo(BaseModel):
    """How to reach a running local Alyx (what ``python -m one_async.testing`` prints)."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    username: str
    password: str = Field(repr=False)
    data_server_url: str
    data_server_login: str
    data_server_password: str = Field(repr=False)
    cache_dir: str

    def session_kwargs(self) -> dict[str, Any]:
        """Keyword arguments connecting :class:`~one_async.AsyncOne` or ``ONE()`` to this server.

        Examples
        --------
        >>> one = ONE(**alyx.info.session_kwargs(), cache_dir='one_cache')  # doctest: +SKIP
        """
        return {
            'base_url': self.base_url,
            'username': self.username,
            'password': self.password,
            'http_data_server': self.data_server_url,
            'http_data_server_login': self.data_server_login,
            'http_data_server_password': self.data_server_password,
            'silent': True,
        }

    def environment(self) -> dict[str, str]:
        """The ``ONE_*`` environment variables of :meth:`session_kwargs`, for the command line
        or a script whose ``ONE()`` takes its server from the environment."""
        return {
            f'ONE_{name.upper()}': str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in self.session_kwargs().items()
        }

    def one_params(self) -> dict[str, Any]:
        """The ONE-api parameters of this server (``one.params`` keys)."""
        return {
            'ALYX_URL': self.base_url,
            'ALYX_LOGIN': self.username,
            'HTTP_DATA_SERVER': self.data_server_url,
            'HTTP_DATA_SERVER_LOGIN': self.data_server_login,
            'HTTP_DATA_SERVER_PWD': self.data_server_password,
        }


class LocalAlyx:
    """A local Alyx REST server and data server over one store and one data folder.

    Parameters
    ----------
    store
        The records to serve.
    data_dir
        The folder whose files the data server serves (``<lab>/Subjects/...``); the
        repositories' ``data_url`` are pointed at it when the servers start.
    config
        REST server settings (users, ``min_api_version``, token expiry ...).
    faults, data_faults
        Initial fault plans of the REST and data servers.
    data_auth
        ``(login, password)`` of the data server; None serves files without auth.
    host, port, data_port
        Interface and ports (0: a free port).
    """

    def __init__(
        self,
        store: AlyxStore,
        data_dir: str | Path,
        *,
        config: AlyxConfig | None = None,
        faults: Faults | None = None,
        data_faults: Faults | None = None,
        data_auth: tuple[str, str] | None = (DATA_SERVER_LOGIN, DATA_SERVER_PASSWORD),
        host: str = '127.0.0.1',
        port: int = 0,
        data_port: int = 0,
    ) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.app = AlyxApp(store, config, faults=faults)
        self.data_app: FaultInjector = create_data_server(
            self.data_dir, auth=data_auth, faults=data_faults
        )
        self.data_auth = data_auth
        self.host, self.port, self.data_port = host, port, data_port
        self._stack: ExitStack | None = None
        self._info: ConnectionInfo | None = None

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def from_alf_folder(cls, root: str | Path, *, seed: int = 0, **kwargs: Any) -> LocalAlyx:
        """Serve the ALF tree under ``root`` (records derived from the files, see
        :func:`one_async.testing.alyx.alf_folder.scan`)."""
        return cls(AlyxStore.from_alf_folder(root, seed=seed), root, **kwargs)

    # --- life cycle --------------------------------------------------------------------------

    @property
    def config(self) -> AlyxConfig:
        return self.app.config

    @property
    def faults(self) -> FaultInjector:
        """The REST server's fault injector."""
        return self.app.faults

    @property
    def data_faults(self) -> FaultInjector:
        """The data server's fault injector."""
        return self.data_app

    @property
    def info(self) -> ConnectionInfo:
        """Connection details; only while running."""
        if self._info is None:
            raise RuntimeError('the local Alyx is not running: use it as a context manager')
        return self._info

    def start(self) -> ConnectionInfo:
        """Start both servers (see :meth:`stop`)."""
        if self._stack is not None:
            return self.info
        stack = ExitStack()
        try:
            data_url = stack.enter_context(
                serve_in_thread(self.data_app, host=self.host, port=self.data_port)
            )
            self.store.set_data_url(data_url)
            base_url = stack.enter_context(
                serve_in_thread(self.app, host=self.host, port=self.port)
            )
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        username, password = next(iter(self.config.users.items()))
        login, secret = self.data_auth or ('', '')
        self._info = ConnectionInfo(
            base_url=base_url,
            username=username,
            password=password,
            data_server_url=data_url,
            data_server_login=login,
            data_server_password=secret,
            cache_dir=str(self.data_dir),
        )
        return self._info

    def stop(self) -> None:
        """Stop both servers."""
        stack, self._stack, self._info = self._stack, None, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> LocalAlyx:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def expire_tokens(self, username: str | None = None) -> int:
        """Invalidate REST tokens now (see :meth:`AlyxApp.expire_tokens`)."""
        return self.app.expire_tokens(username)


def local_alyx_fixture(
    factory: Callable[[Path], LocalAlyx] | None = None,
    *,
    scope: str = 'session',
    name: str | None = None,
) -> Any:
    """A pytest fixture yielding a running :class:`LocalAlyx`.

    Parameters
    ----------
    factory
        Builds the server from a temporary folder (e.g. write an ALF tree there and call
        :meth:`LocalAlyx.from_alf_folder`); by default the shared demo data generator fills it.
    scope, name
        The fixture's pytest scope and name.

    Examples
    --------
    In a ``conftest.py``::

        alyx = local_alyx_fixture(lambda tmp: LocalAlyx.from_alf_folder(make_tree(tmp)))
    """
    import pytest

    build = factory or _demo

    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlyx]:
        with build(tmp_path_factory.mktemp('local_alyx')) as server:
            yield server

    return pytest.fixture(scope=scope, name=name)(fixture)  # type: ignore[call-overload]


def _demo(folder: Path) -> LocalAlyx:
    from .demo import demo_server

    return demo_server(folder)
