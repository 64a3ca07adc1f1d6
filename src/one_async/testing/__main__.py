"""Run a local Alyx in the foreground: ``python -m one_async.testing [options]``.

Serves generated demo data (or the ALF folder given with ``--data``), prints one JSON line with
``base_url``, ``username``, ``password``, ``data_server_url``, ``data_server_login``,
``data_server_password`` and ``cache_dir``, then serves until interrupted (Ctrl-C or SIGTERM).
The credentials are those of this throwaway local server.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from .alyx.app import AlyxConfig
from .demo import DEMO_SESSIONS, demo_server
from .server import ConnectionInfo, LocalAlyx

__all__ = ['main']


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m one_async.testing',
        description='Serve a local Alyx-compatible REST server and its data server.',
    )
    parser.add_argument('--port', type=int, default=0, help='REST server port (default: free)')
    parser.add_argument(
        '--data-port', type=int, default=0, help='data server port (default: free)'
    )
    parser.add_argument('--host', default='127.0.0.1', help='interface (default: loopback)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the generated data')
    parser.add_argument(
        '--sessions', type=int, default=DEMO_SESSIONS, help='number of generated sessions'
    )
    parser.add_argument(
        '--data', type=Path, default=None, help='serve this ALF folder instead of demo data'
    )
    parser.add_argument(
        '--min-api-version',
        default='2.10',
        help='min_api_version advertised by cache/info (2.9 for ONE-api 2.9)',
    )
    return parser


def _print_json(info: ConnectionInfo) -> None:
    print(json.dumps(info.model_dump()), flush=True)


def main(
    argv: Sequence[str] | None = None,
    *,
    announce: Callable[[ConnectionInfo], None] = _print_json,
) -> int:
    """Entry point; returns the exit status.

    ``announce`` tells how to connect once the servers run (default: one JSON line on
    standard output, for scripts).
    """
    args = _parser().parse_args(argv)
    if args.sessions < 0:
        print(f'--sessions must be positive, got {args.sessions}', file=sys.stderr)
        return 2
    config = AlyxConfig(min_api_version=args.min_api_version, seed=args.seed)
    options = {'config': config, 'host': args.host, 'port': args.port, 'data_port': args.data_port}
    with tempfile.TemporaryDirectory(prefix='one_async_alyx_') as tmp:
        if args.data is not None:
            if not args.data.is_dir():
                print(f'--data: not a folder: {args.data}', file=sys.stderr)
                return 2
            server = LocalAlyx.from_alf_folder(args.data, seed=args.seed, **options)
        else:
            server = demo_server(tmp, n_sessions=args.sessions, seed=args.seed, **options)
        stop = threading.Event()

        def _stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        with server:
            announce(server.info)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
