"""The parse process pool's initializer, in a module that imports nothing at load.

A spawned parse process imports the module of every function it is handed. Pointing the
pool at ``runtime`` made each one import the database, the transports and the settings
with it (102 MB each); this module leads only to ``ingestion.process``, its parser and the
language model.
"""

from __future__ import annotations


def warm_up() -> None:
    """Runs in each parse process at start (``ingestion.process.warm_up``)."""
    from newstalk.ingestion.process import warm_up as warm_up_process

    warm_up_process()
