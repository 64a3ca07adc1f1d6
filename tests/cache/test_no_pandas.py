"""The cache layer works without importing pandas (ONE's tables are read and written by hand)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from cache_support import ONE_2_9


def test_cache_layer_never_imports_pandas(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from one_async.cache import CacheTables, build_cache
        from one_async.testing.generate import generate

        root = Path({str(tmp_path)!r})
        data = generate(5, seed=1)
        for layout in ('alyx3', 'one2', 'legacy', 'legacy_plain'):
            data.write_tables(root / layout, layout=layout)
            tables = CacheTables.open(root / layout)
            tables.frame('datasets')
            tables.update(sessions=data.cache_sessions().head(1).with_columns(projects=None))
            tables.save()
        CacheTables.open({str(ONE_2_9)!r}).frame('datasets')
        small = data.head(2).write_files(root / 'tree')
        build_cache(root / 'tree', hash=True)
        assert 'pandas' not in sys.modules, 'pandas was imported'
        """
    )
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
