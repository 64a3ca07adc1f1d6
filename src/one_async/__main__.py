"""``python -m one_async``: the same as the ``one-async`` command."""

from one_async.cli import main

main()
