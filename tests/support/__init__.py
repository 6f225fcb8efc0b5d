"""Helpers shared by several test suites (processes, the CLI, files at rest)."""
