"""Fixtures shared by every test package."""

from tests.support.clock import utc_day
from tests.support.mounts import tmpfs

__all__ = ["tmpfs", "utc_day"]
