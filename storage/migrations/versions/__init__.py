"""One module per schema change, each with a docstring saying why (Alembic skips this file)."""
