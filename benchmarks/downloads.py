"""Bulk download benchmark: one_async's transfer engine against ONE-api 2.9.0's downloader.

Scenarios (data generated once under ``benchmarks/.data``, never committed):

A. 2,000 files of 4 KiB-1 MiB (log-uniform) from nginx on loopback.
B. 16 files of 64 MiB from the same nginx.
C. 1,000 files of 4-256 KiB from ``one_async.testing``'s file server with 50 ms added before
   each response (a stand-in for a network round trip).

Each download runs in a fresh child process, so CPU seconds (user + system, all threads) and
peak memory (max RSS) are the downloader's own.  ONE runs as ``OneAlyx._download_file`` does:
``one.webclient.http_download_file_list`` (4 threads) with ``return_md5=True``.  Runs of the two
alternate and medians are reported, with same-run ratios.  ``curl --parallel`` is measured too
as a reference when ``--curl`` is given.

Run: ``python -m benchmarks.downloads`` (``--help`` for options).  Needs ``nginx`` on PATH
(``apt-get install -y nginx``); the benchmark starts and stops its own instance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name('.data')
KIB = 1024
MIB = 1024 * 1024
SESSION = 'lab/Subjects/subj/2024-01-01/001'

SCENARIOS: dict[str, dict[str, Any]] = {
    'A': {'count': 2000, 'low': 4 * KIB, 'high': 1 * MIB, 'server': 'nginx'},
    'B': {'count': 16, 'low': 64 * MIB, 'high': 64 * MIB, 'server': 'nginx'},
    'C': {'count': 1000, 'low': 4 * KIB, 'high': 256 * KIB, 'server': 'fileserver'},
}


# --- data --------------------------------------------------------------------------------------


def _sizes(spec: dict[str, Any], seed: int) -> list[int]:
    rng = random.Random(seed)
    low, high = spec['low'], spec['high']
    return [int(low * (high / low) ** rng.random()) for _ in range(spec['count'])]


def make_data(name: str) -> list[dict[str, Any]]:
    """Create (once) the files of scenario ``name``; return their records."""
    root = DATA / name
    manifest = root / 'manifest.json'
    if manifest.exists():
        return list(json.loads(manifest.read_text()))
    records = []
    for i, size in enumerate(_sizes(SCENARIOS[name], seed=ord(name))):
        rel = f'{SESSION}/alf/probe{i % 4:02d}/obj{i}.attr.bin'
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        body = os.urandom(size)
        path.write_bytes(body)
        records.append({'rel': rel, 'size': size, 'md5': hashlib.md5(body).hexdigest()})
    manifest.write_text(json.dumps(records))
    return records


# --- servers -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f'server did not start on port {port}')


class Nginx:
    """nginx serving ``DATA`` on a loopback port, with its own temporary config."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix='bench-nginx-'))
        user = 'user root;' if os.geteuid() == 0 else ''
        conf = f"""
{user}
worker_processes 1;
daemon off;
pid {self.tmp}/nginx.pid;
error_log {self.tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 60;
    client_body_temp_path {self.tmp};
    proxy_temp_path {self.tmp};
    fastcgi_temp_path {self.tmp};
    uwsgi_temp_path {self.tmp};
    scgi_temp_path {self.tmp};
    types {{ }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.port};
        root {DATA};
    }}
}}
"""
        (self.tmp / 'nginx.conf').write_text(conf)
        self.process = subprocess.Popen(
            ['nginx', '-p', str(self.tmp), '-c', str(self.tmp / 'nginx.conf')],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)
        self.url = f'http://127.0.0.1:{self.port}'

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


_FILESERVER = """
import sys, uvicorn
from one_async.testing.faults import FaultInjector, FaultPlan, Faults
from one_async.testing.fileserver import create_file_server
app = FaultInjector(create_file_server(sys.argv[1]), Faults(default=FaultPlan(latency=0.05)))
uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning',
            access_log=False, lifespan='off')
"""


class FileServer:
    """``one_async.testing``'s file server with 50 ms latency, in its own process."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, '-c', _FILESERVER, str(DATA), str(self.port)],
            stdout=subprocess.DEVNULL,
        )
        _wait_port(self.port)
        self.url = f'http://127.0.0.1:{self.port}'

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# --- downloaders (run in a child process) ------------------------------------------------------


def _child(tool: str, job: dict[str, Any]) -> dict[str, Any]:
    target = Path(job['target'])
    records = job['records']
    urls = [f'{job["base"]}/{job["scenario"]}/{r["rel"]}' for r in records]
    # Imports happen before the clock starts: the download is measured, not start-up.
    if tool == 'one':
        from one.webclient import http_download_file_list
    elif tool == 'one_async':
        from one_async import defaults
        from one_async.transfer import DownloadItem, download_files_sync
    start_usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if tool == 'one':
        dirs = [str(target / Path(r['rel']).parent) for r in records]
        for directory in set(dirs):
            Path(directory).mkdir(parents=True, exist_ok=True)
        http_download_file_list(urls, target_dir=dirs, silent=True, return_md5=True)
        failed = 0
    elif tool == 'one_async':
        items = [
            DownloadItem(url=url, rel_path=r['rel'], size=r['size'], md5=r['md5'])
            for url, r in zip(urls, records, strict=True)
        ]
        kwargs: dict[str, Any] = {'progress': False}
        if job.get('concurrency'):
            kwargs['max_concurrency'] = kwargs['per_host'] = job['concurrency']
        for name, value in (job.get('options') or {}).items():
            if name == 'src':
                continue
            if name.startswith('defaults.'):  # a library default, changed for this run only
                setattr(defaults, name.removeprefix('defaults.'), value)
            else:
                kwargs[name] = value
        report = download_files_sync(items, target, **kwargs)
        failed = len(report.failed)
    elif tool == 'curl':
        config = target / 'curl.cfg'
        target.mkdir(parents=True, exist_ok=True)
        with open(config, 'w') as handle:
            for url, r in zip(urls, records, strict=True):
                handle.write(f'url = "{url}"\noutput = "{target / r["rel"]}"\n')
        subprocess.run(
            [
                'curl',
                '-s',
                '--create-dirs',
                '--parallel',
                '--parallel-max',
                str(job.get('concurrency') or (64 if job['scenario'] == 'C' else 16)),
                '-K',
                str(config),
            ],
            check=True,
        )
        failed = 0
    else:
        raise ValueError(tool)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = usage.ru_utime - start_usage.ru_utime + children.ru_utime
    system = usage.ru_stime - start_usage.ru_stime + children.ru_stime
    cpu = user + system
    peak = max(usage.ru_maxrss, children.ru_maxrss) * KIB
    return {'wall': wall, 'cpu': cpu, 'user': user, 'sys': system, 'peak': peak, 'failed': failed}


def _verify(target: Path, records: list[dict[str, Any]]) -> int:
    """Number of files missing or wrong (every size; the md5 of a sample of 50)."""
    wrong = 0
    for record in records:
        path = target / record['rel']
        if not path.exists() or path.stat().st_size != record['size']:
            wrong += 1
    for record in random.Random(0).sample(records, min(50, len(records))):
        path = target / record['rel']
        if path.exists() and hashlib.md5(path.read_bytes()).hexdigest() != record['md5']:
            wrong += 1
    return wrong


_runs = [0]


def _drop_page_cache() -> None:
    """Drop clean cached pages (``/proc/sys/vm/drop_caches``) when this process may."""
    try:
        with open('/proc/sys/vm/drop_caches', 'w') as control:
            control.write('1\n')
    except OSError:
        pass


def run_once(
    tool: str,
    scenario: str,
    base: str,
    records: list[dict[str, Any]],
    conc: int,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One download of ``scenario`` by ``tool`` in a fresh process, verified afterwards.

    Every run writes to a new folder, removed only at the end of the scenario: creating files
    right after deleting thousands makes ext4 scan for recently deleted inodes (``perf`` showed
    a third of the CPU in ``recently_deleted``), which would blur the comparison.
    """
    _runs[0] += 1
    # Start from a clean page cache: dirty data left by the previous run (ONE never flushes
    # its files) would otherwise be written back during this one; and, where allowed (root on
    # Linux), from free memory: the earlier runs' files fill the page cache, and the tool that
    # allocates fastest then pays for reclaiming it (seen on B: one_async's CPU per run rose
    # from 2.6 s to 4.3 s over 5 repeats while ONE's, slower to allocate, stayed flat).
    os.sync()
    _drop_page_cache()
    target = DATA / 'targets' / f'{tool}-{scenario}-{_runs[0]}'
    job = {
        'target': str(target),
        'records': records,
        'base': base,
        'scenario': scenario,
        'concurrency': conc,
        'options': options or {},
    }
    env = dict(os.environ)
    source = (options or {}).get('src')
    if source:  # another checkout's one_async (e.g. the previous engine), same run
        env['PYTHONPATH'] = os.pathsep.join(filter(None, [source, env.get('PYTHONPATH')]))
    out = subprocess.run(
        [sys.executable, '-m', 'benchmarks.downloads', '--child', tool],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result['wrong'] = _verify(target, records)
    if result['wrong']:
        print(f'  {tool} left {result["wrong"]} missing or wrong files in {target}', flush=True)
    total = sum(r['size'] for r in records)
    result.update(
        files_s=len(records) / result['wall'],
        mb_s=total / MIB / result['wall'],
        cpu_gb=result['cpu'] / (total / 1024**3),
    )
    return result


def _parse_options(specs: list[str]) -> dict[str, Any]:
    """``NAME=JSON`` settings as a dict."""
    return {k: json.loads(v) for k, v in (s.split('=', 1) for s in specs if s)}


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--scenarios', nargs='+', default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--concurrency',
        type=int,
        default=0,
        help='max_concurrency and per_host for one_async (0: library defaults)',
    )
    parser.add_argument('--tools', nargs='+', default=['one', 'one_async'])
    parser.add_argument('--curl', action='store_true', help='also measure curl --parallel')
    parser.add_argument(
        '--option',
        action='append',
        default=[],
        metavar='NAME=JSON',
        help='extra download_files keyword for one_async, e.g. fsync=false, or a library '
        'default for the run, e.g. defaults.DOWNLOAD_WRITE_BATCH=4194304',
    )
    parser.add_argument(
        '--variant',
        action='append',
        default=[],
        metavar='LABEL:NAME=JSON[,NAME=JSON...]',
        help='also run one_async with these options (as --option), reported as one_async:LABEL; '
        'e.g. nofsync:fsync=false, or before:src=\'"/path/to/old/checkout/src"\' to import '
        'one_async from another checkout',
    )
    args = parser.parse_args(argv)
    options = _parse_options(args.option)
    if args.child:
        print(json.dumps(_child(args.child, json.load(sys.stdin))))
        return
    variants = {'one_async': options}
    for spec in args.variant:
        label, _, settings = spec.partition(':')
        variants[f'one_async:{label}'] = {**options, **_parse_options(settings.split(','))}
    tools = list(args.tools) + [v for v in variants if v != 'one_async']
    tools += ['curl'] if args.curl else []
    rows = []
    for scenario in args.scenarios:
        records = make_data(scenario)
        server: Nginx | FileServer = (
            Nginx() if SCENARIOS[scenario]['server'] == 'nginx' else FileServer()
        )
        try:
            warm = tools[-1]
            run_once(
                warm.partition(':')[0],
                scenario,
                server.url,
                records,
                args.concurrency,
                variants.get(warm),
            )  # warm-up
            runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
            for _ in range(args.repeats):
                for tool in tools:
                    run = run_once(
                        tool.partition(':')[0],
                        scenario,
                        server.url,
                        records,
                        args.concurrency,
                        variants.get(tool),
                    )
                    runs[tool].append(run)
        finally:
            server.stop()
            shutil.rmtree(DATA / 'targets', ignore_errors=True)
        base = runs.get('one') or runs[tools[0]]
        for tool in tools:
            r = runs[tool]
            row = {
                'scenario': scenario,
                'tool': tool,
                'files_s': _median(r, 'files_s'),
                'mb_s': _median(r, 'mb_s'),
                'cpu_s': _median(r, 'cpu'),
                'cpu_gb': _median(r, 'cpu_gb'),
                'peak_mib': _median(r, 'peak') / MIB,
                'failed': max(x['failed'] for x in r),
                'wrong': sum(x['wrong'] for x in r),
                'runs': [{k: x[k] for k in ('wall', 'cpu', 'peak')} for x in r],
            }
            row['x_files'] = row['files_s'] / _median(base, 'files_s')
            row['x_cpu_gb'] = row['cpu_gb'] / _median(base, 'cpu_gb')
            rows.append(row)
            print(
                f'{scenario} {tool:16s} {row["files_s"]:8.1f} files/s {row["mb_s"]:8.1f} MiB/s '
                f'cpu {row["cpu_s"]:6.2f}s ({row["cpu_gb"]:5.2f} s/GB) '
                f'peak {row["peak_mib"]:6.0f} MiB'
                f'  x{row["x_files"]:.2f} speed, x{row["x_cpu_gb"]:.2f} CPU/GB',
                flush=True,
            )
    out = DATA / 'last_results.json'
    out.write_text(json.dumps(rows, indent=1))
    print(f'results written to {out}')


if __name__ == '__main__':
    main()
