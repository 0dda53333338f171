"""``labrf serve``: a measurement server that owns its stations (a worker process each),
keeps a run queue per station (``queue``), answers a JSON API and streams each run's
points live (``app``, ``security``, ``openapi``) to its page (``static/``).

Imported only by ``labrf serve`` and ``labrf run --server``: the core does not load the
web stack.
"""
