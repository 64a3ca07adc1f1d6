"""The transfer scheduler: claimers, workers and placement runners around one queue.

A job plans its items (target paths validated, duplicates folded).  Claimer tasks lock targets a
few at a time in one thread hop (skipping those already in place) and hand them to the workers;
workers stream bodies under the global and per-host semaphores (small files into memory, large
ones to disk in pieces); placement runners write, verify, flush and rename finished small files
in batches, one thread hop per batch.  Failures are retried with backoff and jitter, mid-body
cuts resume with a Range request, a mismatch is downloaded once more, and whatever still fails
becomes a typed error in the item's result while the job goes on.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, Protocol, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from one_async import defaults
from one_async.exceptions import DownloadError, IntegrityError, TransferError, UnsafePathError
from one_async.transfer.files import BUSY, SKIP, Claim, FileSide
from one_async.transfer.http import (
    Body,
    HttpSource,
    Restart,
    Retryable,
    _on_asyncio,
    load_tls_context,
    make_client,
)
from one_async.transfer.http1 import Http1Source
from one_async.transfer.progress import Progress, make_progress
from one_async.transfer.records import (
    Chunk,
    DownloadItem,
    DownloadReport,
    DownloadResult,
    ItemLike,
    to_item,
)
from one_async.transfer.s3 import S3Config, open_s3_source
from one_async.transfer.safety import target_rel_parts

__all__ = ['Options', 'TransferJob']

_P = ParamSpec('_P')
_T = TypeVar('_T')

OnMismatch = Callable[[DownloadItem], Awaitable[None]]


class Source(Protocol):
    """Where bytes come from (HTTP server or S3 bucket)."""

    def open(
        self, item: DownloadItem, offset: int, validator: str | None
    ) -> AbstractAsyncContextManager[Body]:
        """Open the item's body from ``offset``."""
        ...


@dataclass(frozen=True, slots=True)
class Options:
    """The settings of one transfer job (see :func:`one_async.transfer.download_files`)."""

    max_concurrency: int = defaults.DOWNLOAD_CONCURRENCY
    per_host: int | None = None
    check_hash: bool = True
    keep_uuid: bool = False
    overwrite: bool = False
    fsync: bool = defaults.DOWNLOAD_FSYNC
    progress: bool | None = None
    auth: httpx.Auth | tuple[str, str] | None = None
    headers: Mapping[str, str] | None = None
    verify: bool = True
    s3: S3Config | None = None
    retry_attempts: int = defaults.RETRY_ATTEMPTS
    retry_timeout: float = defaults.RETRY_TIMEOUT
    connect_timeout: float = defaults.HTTP_CONNECT_TIMEOUT
    read_timeout: float = defaults.HTTP_READ_TIMEOUT
    integrity_retries: int = defaults.DOWNLOAD_INTEGRITY_RETRIES
    on_mismatch: OnMismatch | None = None
    client: httpx.AsyncClient | None = None
    pool: Http1Source | None = None
    """Connections shared by several jobs (a session's), used on asyncio; not closed by the job."""

    def __post_init__(self) -> None:
        from one_async.exceptions import InvalidArgument

        for name in ('max_concurrency', 'per_host', 'retry_attempts'):
            value = getattr(self, name)
            if name == 'per_host' and value is None:
                continue
            if not isinstance(value, int) or value < 1:
                message = f'{name} must be a positive integer, not {value!r}'
                raise InvalidArgument(message, value=value)
        for name in ('connect_timeout', 'read_timeout'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                message = f'{name} must be a positive number of seconds, not {value!r}'
                raise InvalidArgument(message, value=value)


@dataclass(slots=True, eq=False)
class _Entry:
    """One planned item: its target, its result, and the duplicates waiting on it."""

    index: int
    item: DownloadItem
    final: str | None = None
    error: TransferError | None = None
    followers: list[_Entry] = field(default_factory=list)
    duplicate: bool = False
    not_before: float = 0.0
    poll: float = defaults.DOWNLOAD_LOCK_POLL
    busy_since: float | None = None


@dataclass(slots=True)
class _Buffer:
    """Chunks received but not yet written."""

    chunks: list[Chunk] = field(default_factory=list)
    size: int = 0

    def add(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)

    def take(self) -> list[Chunk]:
        """Hand the chunks over and empty the buffer."""
        chunks, self.chunks, self.size = self.chunks, [], 0
        return chunks


@dataclass(slots=True)
class _Attempt:
    """Progress of one item through its attempts."""

    started: float
    attempts: int = 0
    failures: int = 0
    mismatches: int = 0
    received: int = 0


@dataclass(slots=True, eq=False)
class _FinishJob:
    """The last step of one download, waiting for a finisher."""

    claim: Claim
    chunks: list[Chunk]
    item: DownloadItem
    done: anyio.Event = field(default_factory=anyio.Event)
    outcome: str | BaseException | None = None
    started: bool = False
    withdrawn: bool = False


class _Finisher:
    """Places finished downloads (write, md5 check, fsync, rename) in batches.

    Small files finish faster than a thread hop each can serve, so runners take every job
    waiting (up to ``DOWNLOAD_FINISH_BATCH``) into one worker-thread call.
    """

    def __init__(self, job: TransferJob) -> None:
        self._job = job
        self._send, receive = anyio.create_memory_object_stream[_FinishJob](math.inf)
        with receive:
            self.receivers = [receive.clone() for _ in range(defaults.DOWNLOAD_FINISH_RUNNERS)]

    async def finish(self, claim: Claim, chunks: list[Chunk], item: DownloadItem) -> str | None:
        """Place ``chunks`` as the end of ``claim``; the mismatch found, or None once placed."""
        job = _FinishJob(claim, chunks, item)
        try:
            self._send.send_nowait(job)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # The runners are gone (the job is being cancelled): do it here, which raises the
            # cancellation before touching the file.
            files = self._job.files
            assert files is not None
            (outcome,) = await self._job._fs(files.finish_many, [(claim, chunks, item)])
            if isinstance(outcome, OSError):
                raise outcome from None
            return outcome
        try:
            await job.done.wait()
        except BaseException:
            if job.started:  # a thread is writing this file: let it finish before cleanup
                with anyio.CancelScope(shield=True):
                    await job.done.wait()
            else:
                job.withdrawn = True
            raise
        if isinstance(job.outcome, BaseException):
            raise job.outcome
        return job.outcome

    def close(self) -> None:
        """No more jobs: runners exit once the queue is empty."""
        self._send.close()

    async def run(self, receive: MemoryObjectReceiveStream[_FinishJob]) -> None:
        """Serve jobs from ``receive`` (one of :attr:`receivers`) until :meth:`close`."""
        files = self._job.files
        assert files is not None
        async with receive:
            async for first in receive:
                batch = [first]
                while len(batch) < defaults.DOWNLOAD_FINISH_BATCH:
                    try:
                        batch.append(receive.receive_nowait())
                    except anyio.WouldBlock:
                        break
                batch = [j for j in batch if not j.withdrawn]
                if not batch:
                    continue
                for job in batch:
                    job.started = True
                outcomes: list[str | BaseException | None]
                with anyio.CancelScope(shield=True):
                    try:
                        outcomes = list(
                            await self._job._fs(
                                files.finish_many, [(j.claim, j.chunks, j.item) for j in batch]
                            )
                        )
                    except Exception as exc:  # a bug: every download waiting on it raises it
                        outcomes = [exc] * len(batch)
                    for job, outcome in zip(batch, outcomes, strict=True):
                        job.outcome = outcome
                        job.done.set()


_Claimed = tuple['_Entry', 'Claim | str | BaseException | None']
"""A target after its claim: the lock, BUSY (timed out), SKIP, or the error met."""


class TransferJob:
    """Downloads ``items`` into ``target_dir``; :meth:`run` returns the report."""

    def __init__(
        self, items: Iterable[ItemLike], target_dir: str | os.PathLike[str], options: Options
    ) -> None:
        self.options = options
        self.target_dir = Path(target_dir)
        self._raw = list(items)
        self._limiter = anyio.CapacityLimiter(defaults.DOWNLOAD_FILE_THREADS)
        self._host_limits: dict[str, anyio.Semaphore] = {}
        self._per_host = defaults.DOWNLOAD_PER_HOST
        self._requests = _semaphore(options.max_concurrency)
        self._queue: deque[_Entry] = deque()
        self._results: list[DownloadResult | None] = []
        self._progress: Progress | None = None
        self._emit: Callable[[DownloadResult], Awaitable[None]] | None = None
        self._http: HttpSource | Http1Source | None = None
        self._s3: Source | None = None
        self.files: FileSide | None = None
        self._finisher: _Finisher | None = None

    # --- planning -----------------------------------------------------------------------------

    def _plan(self) -> list[_Entry]:
        entries: list[_Entry] = []
        primary: dict[str, _Entry] = {}
        root = os.path.abspath(self.target_dir)
        for index, raw in enumerate(self._raw):
            item = to_item(raw)
            entry = _Entry(index, item)
            entries.append(entry)
            try:
                rel = target_rel_parts(item, self.options.keep_uuid)
            except UnsafePathError as exc:
                entry.error = exc
                continue
            entry.final = os.path.join(root, *rel)
            first = primary.setdefault(entry.final, entry)
            if first is not entry:
                first.followers.append(entry)
                entry.duplicate = True
        return entries

    # --- helpers ------------------------------------------------------------------------------

    async def _fs(self, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run a blocking file-side call in a worker thread."""
        if kwargs:
            return await anyio.to_thread.run_sync(
                lambda: func(*args, **kwargs), limiter=self._limiter
            )
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    def _host_limit(self, host: str) -> anyio.Semaphore:
        limit = self._host_limits.get(host)
        if limit is None:
            limit = self._host_limits[host] = _semaphore(self._per_host)
        return limit

    def _source(self, item: DownloadItem) -> Source:
        source = self._http if item.url is not None else self._s3
        assert source is not None
        return source

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            base = min(retry_after, defaults.RETRY_MAX_WAIT)
            return base + random.uniform(0, min(base, 1.0) * 0.2)
        base = min(defaults.RETRY_MAX_WAIT, defaults.RETRY_INITIAL_WAIT * 2 ** (failures - 1))
        return random.uniform(base / 2, base)

    async def _record(self, entry: _Entry, result: DownloadResult) -> None:
        self._results[entry.index] = result
        assert self._progress is not None
        if result.status == 'skipped' and result.item.size:
            self._progress.add_bytes(result.item.size)
        self._progress.file_done(result.ok)
        if self._emit is not None:
            await self._emit(result)
        for follower in entry.followers:
            copy = result.model_copy(update={'item': follower.item, 'bytes': 0})
            self._results[follower.index] = copy
            self._progress.file_done(copy.ok)
            if self._emit is not None:
                await self._emit(copy)

    # --- running ------------------------------------------------------------------------------

    async def run(
        self, emit: Callable[[DownloadResult], Awaitable[None]] | None = None
    ) -> DownloadReport:
        """Download everything; ``emit`` is awaited with each result as soon as it is known."""
        started = time.perf_counter()
        self._emit = emit
        entries = self._plan()
        self._results = [None] * len(entries)
        sizes = [e.item.size for e in entries if not e.duplicate]
        total = None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)
        self._progress = make_progress(self.options.progress, len(entries), total)
        try:
            async with AsyncExitStack() as stack:
                await self._run(entries, stack)
        finally:
            self._progress.close()
        results = tuple(r for r in self._results if r is not None)
        assert len(results) == len(entries)
        return DownloadReport(results=results, seconds=time.perf_counter() - started)

    async def _run(self, entries: list[_Entry], stack: AsyncExitStack) -> None:
        self.target_dir.mkdir(parents=True, exist_ok=True)
        self.files = FileSide(
            str(self.target_dir), fsync=self.options.fsync, check_hash=self.options.check_hash
        )
        todo: list[_Entry] = []
        for entry in entries:
            if entry.error is not None:
                result = DownloadResult(item=entry.item, status='failed', error=entry.error)
                await self._record(entry, result)
            elif not entry.duplicate:
                todo.append(entry)
        if not todo:
            return
        self._per_host = self.options.per_host or _default_per_host(todo)
        await self._open_sources(todo, stack)
        self._queue.extend(todo)
        self._requests = _semaphore(self.options.max_concurrency)
        # Workers waiting for their file to be placed hold no request slot: a few more workers
        # than slots keep the connections busy meanwhile.
        spare = defaults.DOWNLOAD_FINISH_RUNNERS * defaults.DOWNLOAD_FINISH_BATCH
        workers = min(self.options.max_concurrency + spare, len(todo))
        finisher = self._finisher = _Finisher(self)
        send, receive = anyio.create_memory_object_stream[_Claimed](
            defaults.DOWNLOAD_CLAIM_BATCH * defaults.DOWNLOAD_CLAIMERS
        )
        leftovers = receive.clone()
        async with anyio.create_task_group() as runners:
            for receiver in finisher.receivers:
                runners.start_soon(finisher.run, receiver)
            try:
                async with anyio.create_task_group() as tg:
                    with send:
                        for _ in range(defaults.DOWNLOAD_CLAIMERS):
                            tg.start_soon(self._claimer, send.clone())
                    with receive:
                        for _ in range(workers):
                            tg.start_soon(self._worker, receive.clone())
            finally:
                finisher.close()
                with anyio.CancelScope(shield=True), leftovers:
                    await self._release_unused(_drain(leftovers))

    async def _open_sources(self, todo: list[_Entry], stack: AsyncExitStack) -> None:
        options = self.options
        s3_items = [e.item for e in todo if e.item.s3 is not None]
        auth = options.auth
        if options.client is not None:
            self._http = HttpSource(options.client)
        elif options.pool is not None and _on_asyncio():
            self._http = options.pool
        elif _on_asyncio() and (auth is None or isinstance(auth, tuple)):
            source = Http1Source(
                max_connections=options.max_concurrency,
                auth=auth,
                headers=options.headers,
                verify=options.verify,
                connect_timeout=options.connect_timeout,
                read_timeout=options.read_timeout,
            )
            stack.push_async_callback(source.aclose)
            self._http = source
        else:
            if options.verify:
                await load_tls_context()
            client = make_client(
                max_connections=options.max_concurrency,
                auth=auth,
                headers=options.headers,
                verify=options.verify,
                timeout=httpx.Timeout(
                    options.read_timeout, connect=options.connect_timeout, pool=None
                ),
            )
            await stack.enter_async_context(client)
            self._http = HttpSource(client)
            if options.per_host is None:  # httpx's own pool slows down with many connections
                self._per_host = min(self._per_host, defaults.DOWNLOAD_PER_HOST)
        if s3_items:
            self._s3 = await stack.enter_async_context(
                open_s3_source(
                    options.s3 or S3Config(),
                    buckets={i.s3.bucket for i in s3_items if i.s3},
                    max_connections=options.max_concurrency,
                    http=self._http,
                    connect_timeout=options.connect_timeout,
                    read_timeout=options.read_timeout,
                )
            )

    async def _claimer(self, send: MemoryObjectSendStream[_Claimed]) -> None:
        """Lock targets a few at a time (one thread hop each) and pass them to the workers.

        The small buffer between them keeps claims just ahead of the downloads, so another
        process working on the same files gets its share.  Targets another holder has locked
        are tried again later, with a growing delay.
        """
        files = self.files
        assert files is not None
        recheck = not self.options.overwrite
        deferred: list[_Entry] = []
        async with send:
            while self._queue or deferred:
                now = time.monotonic()
                ready = [e for e in deferred if e.not_before <= now]
                if not self._queue and not ready:
                    await anyio.sleep(min(e.not_before for e in deferred) - now)
                    continue
                deferred = [e for e in deferred if e.not_before > now]
                while self._queue and len(ready) < defaults.DOWNLOAD_CLAIM_BATCH:
                    ready.append(self._queue.popleft())
                requests = [(e.final or '', e.item, recheck) for e in ready]
                outcomes = await self._fs(files.claim_many, requests)
                pending = list(zip(ready, outcomes, strict=True))
                try:
                    while pending:
                        entry, outcome = pending[0]
                        if outcome == BUSY and not self._lock_timed_out(entry):
                            entry.not_before = time.monotonic() + entry.poll
                            entry.poll = min(entry.poll * 2, 1.0)
                            deferred.append(entry)
                        else:
                            try:
                                try:
                                    send.send_nowait((entry, outcome))
                                except anyio.WouldBlock:
                                    await send.send((entry, outcome))
                            except anyio.BrokenResourceError:
                                # The workers are gone (cancellation): let it surface.
                                await anyio.lowlevel.checkpoint()
                                return
                        pending.pop(0)
                finally:
                    await self._release_unused(pending)

    def _lock_timed_out(self, entry: _Entry) -> bool:
        now = time.monotonic()
        if entry.busy_since is None:
            entry.busy_since = now
        return now - entry.busy_since > defaults.DOWNLOAD_LOCK_TIMEOUT

    async def _release_unused(self, claimed: Iterable[_Claimed]) -> None:
        """Release claims that no worker will use (cancellation)."""
        files = self.files
        assert files is not None
        claims = [c for _, c in claimed if isinstance(c, Claim)]
        if claims:
            with anyio.CancelScope(shield=True):
                for claim in claims:
                    await self._fs(files.abandon, claim, False)

    async def _worker(self, receive: MemoryObjectReceiveStream[_Claimed]) -> None:
        """Download claimed targets one after the other."""
        async with receive:
            while True:
                try:  # most of the time a claim is waiting: take it without a task switch
                    entry, outcome = receive.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        entry, outcome = await receive.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                result = await self._download(entry, outcome)
                await self._record(entry, result)

    async def _download(
        self, entry: _Entry, outcome: Claim | str | BaseException | None
    ) -> DownloadResult:
        """Download one claimed entry (or report why it could not be claimed)."""
        files = self.files
        assert files is not None
        item = entry.item
        if isinstance(outcome, BaseException):
            if isinstance(outcome, TransferError):
                error: TransferError = outcome
            elif isinstance(outcome, OSError):
                error = _local_error(item, outcome)
            else:
                raise outcome
            return DownloadResult(item=item, status='failed', error=error)
        if outcome == BUSY:
            error = DownloadError(
                f'{item.label} is locked by another download for too long: {entry.final}',
                value=entry.final,
            )
            return DownloadResult(item=item, status='failed', error=error)
        if outcome == SKIP:
            return _skipped(entry)
        assert isinstance(outcome, Claim)
        claim = outcome
        state = _Attempt(started=time.perf_counter())
        try:
            result = await self._fetch(item, claim, state)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._fs(files.abandon, claim, _resumable(item))
            raise
        if claim.fd >= 0:
            keep = _resumable(item) and not isinstance(result.error, IntegrityError)
            with anyio.CancelScope(shield=True):
                await self._fs(files.abandon, claim, keep)
        return result

    def _failed(self, item: DownloadItem, state: _Attempt, error: TransferError) -> DownloadResult:
        return DownloadResult(
            item=item,
            status='failed',
            error=error,
            bytes=state.received,
            seconds=time.perf_counter() - state.started,
            attempts=state.attempts,
        )

    async def _fetch(self, item: DownloadItem, claim: Claim, state: _Attempt) -> DownloadResult:
        """Attempt the download until it is placed or the retry budgets are spent."""
        files = self.files
        assert files is not None
        buffer = _Buffer()
        while True:
            state.attempts += 1
            try:
                await self._receive(item, claim, buffer, state)
                batch = buffer.take()
                assert self._finisher is not None
                bad = await self._finisher.finish(claim, batch, item)
                self._add_bytes(batch)
            except Restart:
                buffer.take()
                await self._fs(files.reset, claim)
                state.failures += 1
                if state.failures >= self.options.retry_attempts:
                    error = DownloadError(f'{item.label}: the server keeps refusing to resume')
                    return self._failed(item, state, error)
                continue
            except Retryable as exc:
                state.failures += 1
                elapsed = time.perf_counter() - state.started
                if (
                    state.failures >= self.options.retry_attempts
                    or elapsed > self.options.retry_timeout
                ):
                    error = DownloadError(
                        f'{item.label} failed after {state.attempts} attempts: {exc}',
                        value=item.dataset_id or item.source,
                    )
                    return self._failed(item, state, error)
                await anyio.sleep(self._backoff(state.failures, exc.retry_after))
                continue
            except TransferError as exc:
                return self._failed(item, state, exc)
            except OSError as exc:
                return self._failed(item, state, _local_error(item, exc))
            if bad is None:
                return DownloadResult(
                    item=item,
                    status='downloaded',
                    path=Path(claim.final),
                    bytes=state.received,
                    seconds=time.perf_counter() - state.started,
                    attempts=state.attempts,
                )
            state.mismatches += 1
            if state.mismatches > self.options.integrity_retries:
                return await self._corrupt(item, state, bad)
            await self._fs(files.reset, claim)

    async def _receive(
        self, item: DownloadItem, claim: Claim, buffer: _Buffer, state: _Attempt
    ) -> None:
        """Make one request and stream its body: small files into ``buffer``, large ones to
        disk in ``DOWNLOAD_WRITE_BATCH`` pieces.  Continues from what is already received."""
        files = self.files
        assert files is not None
        offset = claim.offset + buffer.size
        validator = claim.validator if offset else None
        opened = self._source(item).open(item, offset, validator)
        async with self._requests, self._host_limit(item.host), opened as body:
            if not body.partial:
                if offset:
                    buffer.take()
                    if claim.offset:
                        await self._fs(files.reset, claim)
                claim.validator = body.validator
            expected = body.length
            total = claim.offset + buffer.size + (expected or 0)
            streamed = expected is None or total > defaults.DOWNLOAD_SMALL_FILE
            batch_size = defaults.DOWNLOAD_WRITE_BATCH
            got = 0
            async for chunk in body.chunks:
                buffer.add(chunk)
                got += len(chunk)
                if streamed and buffer.size >= batch_size:
                    batch = buffer.take()
                    await self._write(claim, item, batch)
                    self._add_bytes(batch)
                    if body.recycle is not None:
                        for piece in batch:
                            body.recycle(piece)
            state.received += got
            if expected is not None and got < expected:
                raise Retryable(f'body ended after {got} of {expected} bytes')

    def _add_bytes(self, batch: list[Chunk]) -> None:
        assert self._progress is not None
        self._progress.add_bytes(sum(map(len, batch)))

    async def _corrupt(self, item: DownloadItem, state: _Attempt, bad: str) -> DownloadResult:
        """The result of an item still mismatching after its integrity retries."""
        wanted = ', '.join(
            filter(
                None,
                (
                    f'size {item.size}' if item.size is not None else '',
                    f'md5 {item.md5}' if item.md5 else '',
                ),
            )
        )
        error = IntegrityError(
            f'{item.label} does not match its record after {state.mismatches} downloads: '
            f'expected {wanted}, got {bad}',
            value=item.dataset_id or item.source,
        )
        if self.options.on_mismatch is not None:
            with contextlib.suppress(Exception):
                await self.options.on_mismatch(item)
        return self._failed(item, state, error)

    async def _write(self, claim: Claim, item: DownloadItem, batch: list[Chunk]) -> None:
        files = self.files
        assert files is not None
        if not claim.meta_written and claim.validator and _resumable(item):
            await self._fs(files.save_state, claim, item.source, item.size)
        await self._fs(files.write_streamed, claim, batch)


def _semaphore(value: int) -> anyio.Semaphore:
    """A semaphore taken without a task switch when free (thousands of files each take two)."""
    return anyio.Semaphore(value, fast_acquire=True)


def _drain(stream: MemoryObjectReceiveStream[_Claimed]) -> list[_Claimed]:
    """Whatever is still buffered in ``stream``."""
    out: list[_Claimed] = []
    while True:
        try:
            out.append(stream.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            return out


def _default_per_host(todo: list[_Entry]) -> int:
    """Per-host limit for a job: higher when most files are small (latency-bound) ones."""
    sizes = sorted(e.item.size for e in todo if e.item.size is not None)
    if sizes and sizes[len(sizes) // 2] <= defaults.DOWNLOAD_SMALL_FILE:
        return defaults.DOWNLOAD_PER_HOST_SMALL
    return defaults.DOWNLOAD_PER_HOST


def _failed_early(item: DownloadItem, error: TransferError) -> DownloadResult:
    return DownloadResult(item=item, status='failed', error=error)


def _resumable(item: DownloadItem) -> bool:
    return item.size is None or item.size >= defaults.DOWNLOAD_RESUME_MIN


def _skipped(entry: _Entry) -> DownloadResult:
    assert entry.final is not None
    return DownloadResult(item=entry.item, status='skipped', path=Path(entry.final))


def _local_error(item: DownloadItem, exc: OSError) -> DownloadError:
    return DownloadError(
        f'Could not write {item.label} to disk: {exc}', value=item.dataset_id or item.source
    )
