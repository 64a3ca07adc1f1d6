"""ALF: the Alyx file naming specification, path parsing and file access.

- :mod:`one_async.alf.spec`: the spec strings, patterns and validators (``one.alf.spec``).
- :mod:`one_async.alf.path`: parsing and building ALF paths, and the ``ALFPath`` classes
  (``one.alf.path``; ``one.alf.files`` in ONE 2.x, aliased as :mod:`one_async.alf.files`).
- :mod:`one_async.alf.exceptions`: the ALF errors (``one.alf.exceptions``).
"""
