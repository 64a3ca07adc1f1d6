"""Test pipelines offline: a local Alyx-compatible server, a data generator and faults.

- :class:`LocalAlyx` (and :func:`demo_server`, :func:`local_alyx_fixture`): an Alyx REST server
  and a data server on loopback, over generated data or an ALF folder;
- :func:`generate`: reproducible IBL-like sessions, datasets and files;
- :class:`Faults` / :class:`FaultPlan`: seeded fault injection (drops, corruption, 5xx, 429,
  slow bodies) for either server.
"""

from .alyx.app import AlyxConfig
from .alyx.store import AlyxStore
from .demo import demo_server
from .faults import FaultInjector, FaultPlan, Faults
from .generate import SyntheticData, generate
from .server import ConnectionInfo, LocalAlyx, local_alyx_fixture

__all__ = [
    'AlyxConfig',
    'AlyxStore',
    'ConnectionInfo',
    'FaultInjector',
    'FaultPlan',
    'Faults',
    'LocalAlyx',
    'SyntheticData',
    'demo_server',
    'generate',
    'local_alyx_fixture',
]
