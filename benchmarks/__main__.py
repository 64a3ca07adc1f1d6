"""``python -m benchmarks [NAME ...]``: run benchmark scripts (all by default) in turn.

Each script compares one_async with ONE-api 2.9.0 in the same run and writes its own section of
``benchmarks/RESULTS.md``; run one alone (``python -m benchmarks.queries --help``) for options.
"""

from __future__ import annotations

import runpy
import sys

SCRIPTS = ('queries', 'cache_open', 'remote_load', 'sync_overhead', 'downloads')


def main(argv: list[str]) -> None:
    """Run the named scripts, or all of them."""
    names = argv or list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        raise SystemExit(f'unknown benchmark(s) {unknown}; choose from {list(SCRIPTS)}')
    for name in names:
        print(f'== benchmarks.{name} ==', flush=True)
        sys.argv = [f'benchmarks.{name}']
        runpy.run_module(f'benchmarks.{name}', run_name='__main__')


if __name__ == '__main__':
    main(sys.argv[1:])
