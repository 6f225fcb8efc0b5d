"""Data layer: SQLAlchemy models, repositories, engines, migrations, outbox and purge queries.

Entry points: :func:`storage.engine.open_database` (one URL picks SQLite or PostgreSQL),
:func:`storage.migrate.upgrade`, :func:`storage.reports.store_report` (the one-transaction report
write), ``storage.outbox`` (deliveries to caseworkers) and :func:`storage.purge.purge`.
``storage`` never imports ``bot`` or ``handlers`` (DESIGN.md §3).
"""
