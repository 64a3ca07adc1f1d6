"""Every tunable default of one_async, in one place.

Sessions, the transfer engine, the Alyx client and the command line read their defaults from
here; settings (arguments, ``ONE_*`` environment variables, config files) override them.  Change a
value here, not at the place it is used.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

# --- cache tables -----------------------------------------------------------------------------

CACHE_EXPIRY: Final = timedelta(hours=24)
"""Age after which cache tables are considered stale and refreshed in 'auto' mode."""

CACHE_LOCK_TIMEOUT: Final = 30.0
"""Seconds to wait for the inter-process lock of a cache directory before giving up."""

SESSION_SCANS_BEFORE_LOAD: Final = 1
"""Single-session queries answered by a scan of the datasets file (pushed down to the row groups
of that session) before the whole table is read into memory for the next ones."""

HASH_CHUNK_SIZE: Final = 4 * 1024 * 1024
"""Bytes read per call when hashing a file on disk (md5)."""

HASH_THREADS: Final = 4
"""Worker threads that hash files in parallel (cache builds, filesystem checks)."""

CACHE_ROW_GROUP_SIZE: Final = 65_536
"""Rows per parquet row group when writing cache tables: small enough that a per-session lookup
on a sorted table reads one group, large enough to keep the footer small."""

ONE_API_COMPAT_VERSION: Final = '3.6.1'
"""The ONE-api release whose cache tables one_async reads: tables (or a ``cache_info``) whose
``min_api_version`` is newer are not supported."""

# --- Alyx REST client -------------------------------------------------------------------------

HTTP_CONNECT_TIMEOUT: Final = 10.0
"""Seconds to establish a connection."""

HTTP_READ_TIMEOUT: Final = 60.0
"""Seconds without a byte received before a request fails."""

HTTP_MAX_HEAD: Final = 64 * 1024
"""Longest HTTP response head (status line and headers) the download client accepts."""

HTTP_UNASKED_READ: Final = 16 * 1024
"""Most bytes the download client reads at once from a connection while no body buffer waits
for them (a response head, and whatever arrived with it)."""

REST_PAGE_SIZE: Final = 250
"""Results per page when paginating Alyx lists (Alyx's own default)."""

REST_MAX_PAGE_SIZE: Final = 1000
"""Largest ``limit`` Alyx accepts."""

REST_PAGE_CONCURRENCY: Final = 4
"""Pages of one paginated list fetched at once."""

REST_CACHE_EXPIRY: Final = timedelta(hours=24)
"""How long a cached GET response stays valid."""

REST_SCHEMA_EXPIRY: Final = timedelta(weeks=1)
"""How long the server's API description (OpenAPI or CoreAPI) stays valid in the REST cache."""

TOKEN_DIR_NAME: Final = '.one_async'
"""Folder under the user's home holding the cached Alyx tokens (one 0600 file per server)."""

# --- retries ----------------------------------------------------------------------------------

RETRY_ATTEMPTS: Final = 5
"""Attempts (first try included) for a retryable request or download."""

RETRY_INITIAL_WAIT: Final = 0.1
"""Seconds before the first retry; the wait doubles each time, with jitter."""

RETRY_MAX_WAIT: Final = 10.0
"""Upper bound of one wait between retries (a server's Retry-After is honoured up to this)."""

RETRY_TIMEOUT: Final = 60.0
"""Upper bound, in seconds, of the time spent retrying one request."""

# --- transfers --------------------------------------------------------------------------------

DOWNLOAD_CONCURRENCY: Final = 64
"""Requests in flight at once in one transfer job."""

DOWNLOAD_PER_HOST: Final = 16
"""Requests in flight at once to one host when the files are mostly large: a few streams
saturate a link."""

DOWNLOAD_PER_HOST_SMALL: Final = 64
"""Requests in flight at once to one host when most files are small (up to
``DOWNLOAD_SMALL_FILE``): their time goes in round trips, so more of them overlap."""

DOWNLOAD_CHUNK_SIZE: Final = 256 * 1024
"""Bytes read from the network per chunk by the aiohttp and httpx clients; the engine's own
HTTP/1.1 client stops reading a connection once this many bytes nobody asked for are waiting."""

DOWNLOAD_WRITE_BATCH: Final = 1024 * 1024
"""Bytes gathered before one write to disk."""

DOWNLOAD_WRITEBACK_LAG: Final = 16 * 1024 * 1024
"""Bytes of a large file handed to the disk but not yet confirmed written before the writer
waits for the older ones (Linux ``sync_file_range``): bounds the final fsync's wait and the
dirty memory of a download faster than the disk."""

DOWNLOAD_SYNCFS_MAX_OTHER: Final = 64 * 1024 * 1024
"""Most bytes of other unwritten data on the system (``/proc/meminfo`` Dirty + Writeback, less
the batch's own) for which a batch of finished files is flushed by one Linux ``syncfs`` (which
writes every dirty file of the file system, other processes' too); above it, one fsync per
file bounds the wait."""

PART_SUFFIX: Final = '.part'
"""Suffix of a file being downloaded, renamed to its final name once verified."""

DOWNLOAD_SMALL_FILE: Final = 1024 * 1024
"""Files up to this size are received whole in memory, then written, hashed and placed in one
thread hop; larger ones are written in ``DOWNLOAD_WRITE_BATCH`` pieces as they arrive."""

DOWNLOAD_FILE_THREADS: Final = 8
"""Threads doing the file side of a transfer job (write, md5, fsync, rename, existence checks):
mostly waiting on the disk (file creation and fsync wait for journal commits), so they overlap."""

DOWNLOAD_FINISH_RUNNERS: Final = 3
"""Tasks placing finished downloads, each handing batches of them to one thread at a time."""

DOWNLOAD_FINISH_BATCH: Final = 32
"""Most finished downloads placed in one thread hop."""

DOWNLOAD_FSYNC: Final = True
"""Flush each downloaded file to disk before renaming it to its final name."""

DOWNLOAD_CLAIM_BATCH: Final = 8
"""Targets locked (their part files created) in one thread hop."""

DOWNLOAD_CLAIMERS: Final = 6
"""Tasks claiming targets for the workers of a job, each one thread hop at a time."""

DOWNLOAD_INTEGRITY_RETRIES: Final = 1
"""Fresh downloads after a size or md5 mismatch before the file is reported as corrupt."""

DOWNLOAD_RESUME_MIN: Final = 8 * 1024 * 1024
"""Files at least this large keep their ``*.part`` file and its validator (ETag) when a job is
cancelled or fails, so the next job resumes them with a Range request."""

DOWNLOAD_LOCK_POLL: Final = 0.05
"""Seconds between checks of a file that another task or process is downloading (doubling)."""

DOWNLOAD_LOCK_TIMEOUT: Final = 600.0
"""Seconds to wait for another process's download of the same file before giving up."""

# --- configuration ----------------------------------------------------------------------------

DEFAULT_BASE_URL: Final = 'https://openalyx.internationalbrainlab.org'
"""Alyx server used when neither arguments, ``ONE_*`` variables nor config files name one
(ONE-api's default: the public IBL database)."""

DEFAULT_USERNAME: Final = 'intbrainlab'
"""Login used on :data:`DEFAULT_BASE_URL` when none is configured (ONE-api's public account)."""

DEFAULT_HTTP_DATA_SERVER: Final = 'https://ibl.flatironinstitute.org/public'
"""File server of :data:`DEFAULT_BASE_URL` when none is configured (as in ONE-api)."""

DEFAULT_MODE: Final = 'auto'
"""Query mode of a session: 'auto', 'local', 'remote' or 'refresh', as in ONE-api."""

CACHE_ROOT: Final = ('Downloads', 'ONE')
"""Folder, relative to the user's home, holding one cache folder per database (ONE-api's)."""

CONFIG_DIR_NAME: Final = 'one_async'
"""Folder of one_async's configuration under the platform's user configuration folder."""

CONFIG_FILE_NAME: Final = 'config.toml'
"""Name of one_async's configuration file (the ``ONE_CONFIG`` variable overrides the path)."""

ONE_PARAMS_DIR_NAME: Final = '.one'
"""ONE-api's parameter folder, under the home folder (``%APPDATA%`` on Windows); read only."""

# --- sync facade ------------------------------------------------------------------------------

SYNC_BACKEND: Final = 'asyncio'
"""Event loop backend ('asyncio' or 'trio') of the background thread behind sync sessions."""

SYNC_POLL_INTERVAL: Final = 0.25
"""Seconds a blocked sync call waits at a time, so Ctrl-C is noticed on every platform."""

SYNC_CANCEL_TIMEOUT: Final = 10.0
"""Seconds a sync call interrupted by Ctrl-C waits for its cancelled coroutine to clean up."""

SYNC_CLOSE_TIMEOUT: Final = 30.0
"""Seconds ``close()`` waits for cancelled in-flight calls before closing the async object."""
