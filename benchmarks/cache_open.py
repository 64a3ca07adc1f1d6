"""Cache-table open benchmark: one_async's CacheTables against ONE-api 2.9.0's ``One``.

Tables of about 1.2 and 5 million datasets (10,000 and 40,000 generated sessions, Alyx 3.x
layout) are written once under ``benchmarks/.data`` (never committed).  Each measurement runs in
a fresh child process, so wall time covers the operation only (imports excluded) and peak memory
is the child's own high-water mark (VmHWM) minus its value after the imports.

Operations:

``one``        ``One(cache_dir=..., mode='local')`` then ``list_datasets`` of 100 sessions
``open``       ``CacheTables.open``: footers only, tables lazy
``lookup``     open, then ``session_datasets`` of 100 sessions (pushed-down scans)
``frame``      open, materialise both tables, then the 100 lookups (binary-searched slices)

Runs alternate and medians are reported with ratios to ONE.  Run:
``python -m benchmarks.cache_open`` (``--help`` for options).

Results on the 2-core development machine (medians of 3, ratios to ONE; ONE's ``list_datasets``
also filters by QC, hence its fewer rows):

==============  ===========  ============  ===========  ============
operation       1.16 M time  1.16 M memory  4.68 M time  4.68 M memory
==============  ===========  ============  ===========  ============
one (ONE 2.9)   10.4 s       1070 MiB      62.3 s       3992 MiB
open            0.001        0.012         0.0002       0.003
lookup          0.059        0.042         0.012        0.013
frame           0.044        0.217         0.048        0.200
==============  ===========  ============  ===========  ============
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

DATA = Path(__file__).with_name('.data') / 'cache_open'

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time

    def peak_kib():
        # VmHWM: this process's own high-water mark (ru_maxrss survives exec on Linux)
        try:
            for line in open('/proc/self/status'):
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    op, tables_dir, eids_file = sys.argv[1], sys.argv[2], sys.argv[3]
    eids = json.loads(open(eids_file).read())
    if op == 'one':
        from one.api import One
    else:
        from one_async.cache import CacheTables
    base = peak_kib()
    t0 = time.perf_counter()
    if op == 'one':
        one = One(cache_dir=tables_dir, mode='local')
        rows = sum(len(one.list_datasets(e)) for e in eids)
    else:
        tables = CacheTables.open(tables_dir)
        rows = 0
        if op == 'frame':
            tables.frame('sessions'), tables.frame('datasets')
        if op in ('lookup', 'frame'):
            rows = sum(tables.session_datasets(e).height for e in eids)
    elapsed = time.perf_counter() - t0
    peak = peak_kib()
    print(json.dumps({'seconds': elapsed, 'peak_mib': (peak - base) / 1024, 'rows': rows}))
    """
)

OPERATIONS = ('one', 'open', 'lookup', 'frame')


_PREPARE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from one_async.testing.generate import generate

    n_sessions, folder = int(sys.argv[1]), Path(sys.argv[2])
    data = generate(n_sessions, seed=0)
    data.write_tables(folder, layout='alyx3')
    eids = data.sessions['id'].sample(100, seed=1).to_list()
    (folder / 'eids.json').write_text(json.dumps(eids))
    """
)


def prepare(n_sessions: int) -> Path:
    """Generate and write the tables of ``n_sessions`` sessions once (in a child process, so
    that this one stays small); return their folder."""
    folder = DATA / f'{n_sessions}'
    if not ((folder / 'datasets.pqt').exists() and (folder / 'eids.json').exists()):
        subprocess.run([sys.executable, '-c', _PREPARE, str(n_sessions), str(folder)], check=True)
    return folder


def measure(op: str, folder: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, '-c', _CHILD, op, str(folder), str(folder / 'eids.json')],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sessions', type=int, nargs='+', default=[10_000, 40_000])
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    for n_sessions in args.sessions:
        folder = prepare(n_sessions)
        import pyarrow.parquet as pq

        n_datasets = pq.ParquetFile(folder / 'datasets.pqt').metadata.num_rows
        runs: dict[str, list[dict[str, float]]] = {op: [] for op in OPERATIONS}
        for _ in range(args.repeat):
            for op in OPERATIONS:
                runs[op].append(measure(op, folder))
        one_time = statistics.median(r['seconds'] for r in runs['one'])
        one_mem = statistics.median(r['peak_mib'] for r in runs['one'])
        print(f'\n{n_sessions} sessions, {n_datasets} datasets (median of {args.repeat})')
        print(f'{"operation":<10}{"seconds":>10}{"x ONE":>9}{"peak MiB":>11}{"x ONE":>9}')
        for op in OPERATIONS:
            seconds = statistics.median(r['seconds'] for r in runs[op])
            memory = statistics.median(r['peak_mib'] for r in runs[op])
            print(
                f'{op:<10}{seconds:>10.3f}{seconds / one_time:>9.3f}'
                f'{memory:>11.0f}{memory / max(one_mem, 1e-9):>9.3f}'
            )
        rows = {op: runs[op][0]['rows'] for op in ('one', 'lookup', 'frame')}
        print(f'rows returned by the 100 lookups: {rows}')


if __name__ == '__main__':
    main()
