"""Fixtures for invariant tests: ``db`` is the storage tests' fixture, run on a SQLite file and
on a fresh PostgreSQL schema."""

from __future__ import annotations

from tests.storage.conftest import db, pg_schema, sqlite_path

__all__ = ["db", "pg_schema", "sqlite_path"]
