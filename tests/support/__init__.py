"""Helpers shared by the tests: committed images, test services, fake engines, local servers.

Import what you need by name (``from support.fakes import FakeEngine``); the fixtures built on these
live in ``tests/conftest.py``.
"""
