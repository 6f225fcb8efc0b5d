"""End-to-end tests across processes: ``sanad run`` and the ``sanad`` CLI as subprocesses."""
