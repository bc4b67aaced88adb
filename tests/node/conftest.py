"""Fixtures of the node tests: a real ganache node for the bridge tests."""

from ganache_process import ganache_url  # noqa: F401 - the fixture, offered here
