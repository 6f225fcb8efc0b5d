"""Fixtures shared by every test package."""

from tests.support.mounts import tmpfs

__all__ = ["tmpfs"]
