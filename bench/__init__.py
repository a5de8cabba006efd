"""chatbot's speed benchmark: each case against its floors and the naive way, as ratios.

Run ``.venv/bin/python -m bench`` from the repository root (``--quick`` for tiny sizes,
``--json PATH`` to keep the figures); BENCHMARKS.md says what each case measures. It is
run with ``-m`` from the root because the bench server is ``tests.support.fakeserver``,
imported as a module: the root must be on ``sys.path``.

- ``harness``: sizes, running children in a pty or a pipe, the bench server, workers.
- ``cases``: what each case measures and prints.
- ``report``: targets with their verdicts, the printed tables, the JSON.
- ``naive``: the baseline clients, run as a script by the cases.

Nothing is re-exported here: ``python -m bench`` runs ``bench.__main__``, which
importing it from this file would run twice.
"""

from __future__ import annotations

__all__: list[str] = []
