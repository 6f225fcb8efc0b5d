"""Data layer: SQLAlchemy models, repositories, engines, migrations, outbox and purge queries."""
