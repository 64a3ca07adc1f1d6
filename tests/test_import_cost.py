"""``import one_async`` leaves heavy optional parts unimported until they are used."""

from __future__ import annotations

import json
import subprocess
import sys

# Imported on first use: aiohttp by the download fallback and S3, boto by S3, the servers by
# one_async.testing and the CLI.
DEFERRED = ('aiohttp', 'aioboto3', 'botocore', 'moto', 'uvicorn', 'starlette', 'typer', 'one')


def test_import_leaves_heavy_dependencies_for_later() -> None:
    code = (
        'import json, sys, one_async\n'
        f'print(json.dumps([m for m in {DEFERRED!r} if m in sys.modules]))'
    )
    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []
