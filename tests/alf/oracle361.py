"""ALF parity corpus: a deterministic generator, and an evaluator for ONE-api or one_async.

Run as a script with an interpreter where ONE-api 3.6.1 is importable, it records ONE's
results::

    /work/ref361/bin/python tests/alf/oracle361.py evaluate corpus.json results.json
    /work/ref361/bin/python tests/alf/oracle361.py golden tests/alf/data/corpus361.json

``evaluate`` reads ``{"items": [...]}`` and writes ``{"results": [...]}`` (same order);
``golden`` generates a small corpus and writes it with ONE's results.  The parity tests import
this module to generate the same corpus and to evaluate it with one_async, so that both sides
decode arguments and encode results identically.  Only the standard library is used here.

Run it from an empty directory: ``ALFPath`` methods look at the file system.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import pathlib
import random
import re
import sys
import tempfile
import types
import uuid
from collections.abc import Callable
from typing import Any

# --- value pools: mostly valid values first, then malformed ones ----------------------------

UUID4 = 'a976e418-c8b8-4d24-be47-d05120b18341'
UUID3 = str(uuid.uuid3(uuid.NAMESPACE_URL, 'one_async'))
UUID5 = str(uuid.uuid5(uuid.NAMESPACE_DNS, 'one_async'))
UUID1 = '6ba7b810-9dad-11d1-80b4-00c04fd430c8'
UUIDS = [UUID4, UUID3, UUID5, UUID1, UUID4.upper(), UUID4.replace('-', ''), '{' + UUID4 + '}']

LABS = ['cortexlab', 'hoferlab', 'lab_1', 'Lab2', 'lab-x', 'lab.x', 'ü', '', 'my lab', '1']
SUBJECTS = ['KS023', 'SWC_001', 'sub-01', 'ZM_1085', 'a.b', '123', 'ñame', 'bad subj', 'x', '']
DATES = [
    '2020-01-01',
    '2019-12-31',
    '2024-02-29',
    '2023-02-29',
    '2020-13-01',
    '2020-1-1',
    '20200101',
    '2020-01-1',
    '0000-00-00',
    '٢٠٢٠-٠١-٠١',
    '2020-01-01x',
]
NUMBERS = ['001', '1', '12', '999', '0001', '000', 'abc', '1a', '١', '²', '']
COLLECTIONS = [
    'alf',
    'alf/probe00',
    'raw_ephys_data/probe01',
    'raw_video_data',
    '',
    'a.b',
    'x-y',
    'a b',
    'alf/#r#',
    'é',
]
REVISIONS = ['2020-01-01', 'v1.0.0', 'rev_1', '', 'bad rev', 'a#b', '#']
NAMESPACES = ['ibl', 'iblrig', 'spikeglx', 'Ns2', '', 'name_space', '_', 'é']
OBJECTS = [
    'trials',
    'spikes',
    'wheelMoves',
    'ephysData_g0_t0',
    'ROIs',
    '_x',
    'obj-1',
    'ΔF',
    '1obj',
    'a b',
    '',
]
ATTRIBUTES = [
    'times',
    'intervals',
    'goCue_times',
    'stimOn_times',
    'table',
    'timestamps',
    'imec0',
    'feedback_type',
    '_phy_ids',
    'a-b',
    'intervals_bpod',
    '',
]
TIMESCALES = ['bpod', 'ephysClock', '', 'a_b', 'x-y', 'é']
EXTRAS = ['raw', 'a.b', UUID4, UUID3, '', 'pqt', '-', 'x y', *UUIDS[2:]]
EXTENSIONS = ['npy', 'pqt', 'json', 'ssv', 'bin', '', 'n-p', 'ß', '1']
ROOTS = [
    '',
    '/',
    '/data/',
    '/mnt/s0/Data/',
    'C:\\Data\\',
    'C:/Data/',
    '//srv/share/',
    './',
    '../',
    'etc/',
    '1/',
    '/data/2020-01-01/1/',
]
INSERTS = ['.', '_', '/', '\\', '#', ' ', '-', 'é', '\n', '1', 'a', '..', '//', '2020-01-01']
WORDS = ['motion', 'energy', 'ROI', 'ROIs', 'mpci', 'RFM', 'passive', 'Foo', 'bar', 'A1', 'x', '']
QC_VALUES: list[Any] = [
    'pass',
    'PASS',
    'Warning',
    'not_set',
    'critical',
    'fail',
    'nope',
    '',
    '10',
    '30',
    '15',
    '²',
    10,
    50,
    0,
    20,
    -1,
    10.0,
    None,
]
SPEC_NAMES = ['SESSION_SPEC', 'COLLECTION_SPEC', 'FILE_SPEC', 'REL_PATH_SPEC', 'FULL_SPEC']

PARSERS = ['filename_parts', 'rel_path_parts', 'session_path_parts', 'folder_parts']
PARSERS += ['full_path_parts']
PATH_FUNCTIONS = [
    'get_session_path',
    'get_alf_path',
    'add_uuid_string',
    'remove_uuid_string',
    'padded_sequence',
    'without_revision',
    'ensure_alf_path',
]
NO_ARG_METHODS = [
    'is_dataset',
    'is_valid_alf',
    'is_session_path',
    'session_path',
    'without_lab',
    'relative_to_lab',
    'relative_to_session',
    'with_padded_sequence',
    'without_revision',
    'without_uuid',
]
ATTRIBUTES_OF_PATH = [
    'dataset_name_parts',
    'session_parts',
    'alf_parts',
    'lab',
    'subject',
    'date',
    'sequence',
    'collection',
    'revision',
    'namespace',
    'object',
    'attribute',
    'timescale',
    'extra',
]


# --- generator ------------------------------------------------------------------------------


class Generator:
    """Deterministic corpus generator (``random.Random(seed)``): valid and malformed inputs."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, pool: list[Any], valid: int = 4, p_valid: float = 0.75) -> Any:
        """Mostly one of the first ``valid`` (well-formed) values, else any value."""
        if self.rng.random() < p_valid:
            return self.rng.choice(pool[:valid])
        return self.rng.choice(pool)

    def name(self) -> str:
        rng = self.rng
        ns = self.pick(NAMESPACES) if rng.random() < 0.4 else ''
        ts = self.pick(TIMESCALES, 2) if rng.random() < 0.3 else ''
        extra = self.pick(EXTRAS, 4) if rng.random() < 0.3 else ''
        name = (f'_{ns}_' if ns else '') + self.pick(OBJECTS, 5) + '.' + self.pick(ATTRIBUTES, 7)
        name += (f'_{ts}' if ts else '') + (f'.{extra}' if extra else '')
        if rng.random() < 0.95:
            name += '.' + self.pick(EXTENSIONS, 5)
        return name

    def session(self) -> str:
        lab = self.pick(LABS, 4) + '/Subjects/' if self.rng.random() < 0.5 else ''
        return f'{lab}{self.pick(SUBJECTS, 4)}/{self.pick(DATES, 3)}/{self.pick(NUMBERS, 4)}'

    def folders(self) -> str:
        rng = self.rng
        collection = self.pick(COLLECTIONS) if rng.random() < 0.6 else ''
        revision = self.pick(REVISIONS, 3) if rng.random() < 0.3 else ''
        return (f'{collection}/' if collection else '') + (f'#{revision}#/' if revision else '')

    def root(self) -> str:
        return self.pick(ROOTS, 4, 0.6) if self.rng.random() < 0.6 else ''

    def path(self, kind: str | None = None) -> str:
        kinds = ['name', 'rel', 'session', 'folder', 'full', 'full', 'day']
        kind = kind or self.rng.choice(kinds)
        if kind == 'day':  # a subject's date folder, after a number folder or not
            text = self.rng.choice(['1/', '042/', '']) + self.pick(SUBJECTS) + '/'
            text += self.pick(DATES, 3)
        elif kind == 'name':
            text = self.name()
        elif kind == 'rel':
            text = self.folders() + self.name()
        elif kind == 'session':
            text = self.root() + self.session()
        elif kind == 'folder':
            text = self.root() + self.session() + '/' + self.folders().rstrip('/')
        else:
            text = self.root() + self.session() + '/' + self.folders() + self.name()
        return self.mutate(text)

    def mutate(self, text: str) -> str:
        rng = self.rng
        for _ in range(rng.choice([0, 0, 0, 0, 1, 1, 2, 3])):
            i = rng.randrange(len(text) + 1)
            op = rng.randrange(9)
            if op == 0 and text:
                text = text[: max(i - 1, 0)] + text[i:]
            elif op == 1:
                text = text[:i] + rng.choice(INSERTS) + text[i:]
            elif op == 2:
                text = text.replace('/', '\\')
            elif op == 3:
                text = text + '/'
            elif op == 4:
                segments = text.split('/')
                j = rng.randrange(len(segments))
                segments.insert(j, segments[j])
                text = '/'.join(segments)
            elif op == 5:
                text = text[:i] + rng.choice(UUIDS) + text[i:]
            elif op == 6 and text:
                j = rng.randrange(len(text))
                text = text[:j] + text[j].upper() + text[j + 1 :]
            elif op == 7:
                text = text.rsplit('.', 1)[0]
            else:
                text = text[:i] + '.' + text[i:]
        return text

    def path_arg(self, text: str) -> Any:
        """The path as a str (mostly) or as an encoded pathlib object."""
        r = self.rng.random()
        if r < 0.8:
            return text
        cls = 'PurePosixPath' if r < 0.88 else 'PureWindowsPath' if r < 0.93 else 'PosixPath'
        return {'$path': text, '$cls': cls}

    def words(self) -> str:
        n = self.rng.randint(1, 3)
        seps = ['_', ' ', '']
        text = ''
        for i in range(n):
            text += (self.rng.choice(seps) if i else '') + self.rng.choice(WORDS)
        return text

    def item(self) -> dict[str, Any]:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            fn = rng.choice(PARSERS)
            kind = {
                'filename_parts': 'name',
                'rel_path_parts': 'rel',
                'session_path_parts': 'session',
                'folder_parts': 'folder',
            }.get(fn)
            text = self.path(kind if rng.random() < 0.7 else None)
            kwargs = {'as_dict': rng.random() < 0.5, 'assert_valid': rng.random() < 0.6}
            return {'fn': f'path.{fn}', 'args': [self.path_arg(text)], 'kwargs': kwargs}
        if r < 0.5:
            fn = rng.choice(PATH_FUNCTIONS)
            args: list[Any] = [self.path_arg(self.path())]
            kwargs = {}
            if fn == 'add_uuid_string':
                u = rng.choice([*UUIDS, 'abc', {'$uuid': UUID3}])
                args.append(u)
                kwargs['strict'] = rng.random() < 0.3
            return {'fn': f'path.{fn}', 'args': args, 'kwargs': kwargs}
        if r < 0.85:
            return self.method_item()
        return self.spec_item()

    def method_item(self) -> dict[str, Any]:
        rng = self.rng
        c = rng.random()
        cls = 'PurePosixALFPath' if c < 0.7 else 'PureWindowsALFPath' if c < 0.8 else 'ALFPath'
        item: dict[str, Any] = {'fn': 'method', 'cls': cls, 'path': self.path(), 'kwargs': {}}
        m = rng.random()
        if m < 0.25:
            item.update(fn='attr', name=rng.choice(ATTRIBUTES_OF_PATH))
            return item
        if m < 0.45:
            item.update(name=rng.choice(NO_ARG_METHODS), args=[])
            return item
        name = rng.choice(
            [
                'with_lab',
                'with_subject',
                'with_date',
                'with_sequence',
                'with_object',
                'with_namespace',
                'with_attribute',
                'with_timescale',
                'with_extra',
                'with_extension',
                'with_collection',
                'with_revision',
                'with_uuid',
                'session_path_short',
                'parse_alf_path',
                'parse_alf_name',
            ]
        )
        kwargs: dict[str, Any] = {}
        pools: dict[str, list[Any]] = {
            'with_lab': [*LABS, None, 5],
            'with_subject': [*SUBJECTS, None],
            'with_date': [
                *DATES,
                None,
                {'$date': '2021-05-06'},
                {'$datetime': '2021-05-06T07:08'},
            ],
            'with_sequence': [*NUMBERS, 0, 5, 42, 999, 1000, -1, None, ' 7 ', 1.0],
            'with_object': [*OBJECTS, 'a/b'],
            'with_namespace': [*NAMESPACES, None],
            'with_attribute': ATTRIBUTES,
            'with_timescale': [*TIMESCALES, None],
            'with_extra': [*EXTRAS, {'$list': ['a', 'b']}, {'$list': ['', 'x']}, {'$list': []}],
            'with_extension': [*EXTENSIONS, '.npy', None],
            'with_collection': [*COLLECTIONS, None, '/alf/', 'alf//probe', 'alf/./x'],
            'with_revision': [*REVISIONS, None],
            'with_uuid': [*UUIDS, 'abc', {'$uuid': UUID4}],
        }
        args = [rng.choice(pools[name])] if name in pools else []
        if name == 'with_lab' or name == 'with_uuid':
            kwargs['strict'] = rng.random() < 0.4
        elif name == 'with_extra':
            kwargs['append'] = rng.random() < 0.5
        elif name == 'session_path_short':
            kwargs['include_lab'] = rng.random() < 0.5
        elif name.startswith('parse_'):
            kwargs['as_dict'] = rng.random() < 0.5
        item.update(name=name, args=args, kwargs=kwargs)
        return item

    def spec_item(self) -> dict[str, Any]:
        rng = self.rng
        fn = rng.choice(
            [
                'is_valid',
                'is_session_path',
                'is_uuid_string',
                'is_uuid',
                'to_alf',
                'to_alf',
                '_dromedary',
                'readableALF',
                'QC.validate',
                'regex',
                'path_pattern',
            ]
        )
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        if fn == 'is_valid':
            args = [self.mutate(self.name())]
        elif fn == 'is_session_path':
            args = [self.path_arg(self.path(rng.choice(['session', 'folder', 'full'])))]
        elif fn in ('is_uuid_string', 'is_uuid'):
            value = rng.choice(
                [*UUIDS, self.mutate(UUID4), 'abc', '', 5, 2**130, {'$bytes': '00' * 16}]
            )
            args = [value]
            if fn == 'is_uuid' and rng.random() < 0.3:
                kwargs['versions'] = {'$tuple': rng.choice([[4], [1, 3, 4, 5], [3]])}
        elif fn == 'to_alf':
            args = [self.pick(OBJECTS, 5), self.pick(ATTRIBUTES, 7), self.pick(EXTENSIONS, 5)]
            if rng.random() < 0.05:
                args[2] = rng.choice([None, '.npy'])
            if rng.random() < 0.5:
                kwargs['namespace'] = self.pick([*NAMESPACES, None], 4)
            if rng.random() < 0.4:
                kwargs['timescale'] = rng.choice(
                    [self.pick(TIMESCALES, 2), {'$tuple': ['ephys clock', 'minutes']}, None]
                )
            if rng.random() < 0.4:
                kwargs['extra'] = rng.choice(
                    [self.pick(EXTRAS, 4), {'$tuple': ['raw', 'v12']}, {'$list': []}, None]
                )
            if rng.random() < 0.3:
                args[0] = self.words()
            if rng.random() < 0.3:
                args[1] = self.words()
        elif fn == '_dromedary':
            args = [self.words()]
        elif fn == 'readableALF':
            args = [self.words().replace(' ', '').replace('_', '')]
            kwargs['capitalize'] = rng.random() < 0.5
        elif fn == 'QC.validate':
            args = [rng.choice(QC_VALUES)]
        elif fn == 'regex':
            args = [{'$spec': rng.choice(SPEC_NAMES)}]
            kwargs = rng.choice([{}, {'object': 'trials'}, {'attribute': None}, {'foo': 'x'}])
        return {'fn': f'spec.{fn}', 'args': args, 'kwargs': kwargs}


def make_corpus(n: int, seed: int) -> list[dict[str, Any]]:
    """Return ``n`` items from the generator seeded with ``seed`` (the same on every run)."""
    gen = Generator(seed)
    return [gen.item() for _ in range(n)]


# --- evaluation -----------------------------------------------------------------------------


def decode(value: Any, lib: types.SimpleNamespace) -> Any:
    """Turn an encoded argument into the object to pass."""
    if isinstance(value, dict):
        if '$path' in value:
            cls = value['$cls']
            factory = getattr(lib.path, cls, None) or getattr(pathlib, cls)
            return factory(value['$path'])
        if '$uuid' in value:
            return uuid.UUID(value['$uuid'])
        if '$bytes' in value:
            return bytes.fromhex(value['$bytes'])
        if '$date' in value:
            return datetime.date.fromisoformat(value['$date'])
        if '$datetime' in value:
            return datetime.datetime.fromisoformat(value['$datetime'])
        if '$tuple' in value:
            return tuple(decode(v, lib) for v in value['$tuple'])
        if '$list' in value:
            return [decode(v, lib) for v in value['$list']]
        if '$spec' in value:
            return getattr(lib.spec, value['$spec'])
    return value


FAMILIES = (KeyError, IndexError, AttributeError, ValueError, TypeError)


def encode(value: Any) -> Any:
    """Turn a result into JSON, keeping tuple/list/dict/path/enum types apart."""
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int) and type(value) is int:
        return value
    if isinstance(value, int):  # an IntEnum member
        return {'$enum': type(value).__name__, 'name': value.name, 'value': int(value)}
    if isinstance(value, pathlib.PurePath):
        return {'$path': str(value), '$cls': type(value).__name__}
    if isinstance(value, tuple):
        return {'$tuple': [encode(v) for v in value]}
    if isinstance(value, list):
        return {'$list': [encode(v) for v in value]}
    if isinstance(value, dict):
        return {'$dict': [[k, encode(v)] for k, v in value.items()]}
    if isinstance(value, re.Pattern):
        return {'$pattern': value.pattern}
    return {'$repr': repr(value)}


def encode_error(error: Exception) -> dict[str, Any]:
    family = next((f.__name__ for f in FAMILIES if isinstance(error, f)), 'Exception')
    return {
        '$error': family,
        'type': type(error).__name__,
        'mro': [c.__name__ for c in type(error).__mro__],
    }


def _call(item: dict[str, Any], lib: types.SimpleNamespace) -> Any:
    fn: str = item['fn']
    args = [decode(a, lib) for a in item.get('args', [])]
    kwargs = {k: decode(v, lib) for k, v in item.get('kwargs', {}).items()}
    if fn in ('method', 'attr'):
        target = getattr(lib.path, item['cls'])(item['path'])
        if fn == 'attr':
            return getattr(target, item['name'])
        return getattr(target, item['name'])(*args, **kwargs)
    module, name = fn.split('.', 1)
    if fn == 'spec.QC.validate':
        func: Callable[..., Any] = lib.spec.QC.validate
    else:
        func = getattr(getattr(lib, module), name)
    return func(*args, **kwargs)


def evaluate(item: dict[str, Any], lib: types.SimpleNamespace) -> Any:
    """Run one corpus item against ``lib`` (namespace with ``spec`` and ``path`` modules)."""
    try:
        return encode(_call(item, lib))
    except Exception as error:
        return encode_error(error)


def one_library() -> types.SimpleNamespace:
    """ONE-api's modules (3.x: ``one.alf.path``)."""
    import one.alf.path as one_path
    import one.alf.spec as one_spec

    return types.SimpleNamespace(spec=one_spec, path=one_path)


def _evaluate_all(items: list[dict[str, Any]]) -> list[Any]:
    logging.disable(logging.CRITICAL)  # ONE logs a warning when a UUID is already present
    lib = one_library()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as empty:
        os.chdir(empty)  # relative paths must not exist
        try:
            return [evaluate(item, lib) for item in items]
        finally:
            os.chdir(cwd)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == 'evaluate':
        with open(argv[1], encoding='utf-8') as f:
            items = json.load(f)['items']
        with open(argv[2], 'w', encoding='utf-8') as f:
            json.dump({'results': _evaluate_all(items)}, f)
        return 0
    if len(argv) in (2, 4) and argv[0] == 'golden':
        n, seed = (int(argv[2]), int(argv[3])) if len(argv) == 4 else (500, 20250361)
        items = make_corpus(n, seed)
        import one

        golden = {
            'producer': f'ONE-api {one.__version__} via tests/alf/oracle361.py golden '
            f'(Python {sys.version.split()[0]}); results recorded from ONE, not from one_async',
            'seed': seed,
            'items': items,
            'results': _evaluate_all(items),
        }
        with open(argv[1], 'w', encoding='utf-8') as f:  # one item or result per line
            f.write('{\n')
            for key in ('producer', 'seed'):
                f.write(f'{json.dumps(key)}: {json.dumps(golden[key])},\n')
            for key in ('items', 'results'):
                lines = ',\n'.join(json.dumps(v, ensure_ascii=False) for v in golden[key])
                f.write(f'{json.dumps(key)}: [\n{lines}\n]' + (',\n' if key == 'items' else '\n'))
            f.write('}\n')
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
