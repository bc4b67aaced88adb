"""A fresh PostgreSQL database for a test, on the server `EARMARK_TEST_POSTGRES_URL` names.

Without that variable the test is skipped, except under CI (`CI=true`), where it fails: CI must
test PostgreSQL. Each database is named after the test's purpose and the xdist worker, and is
dropped and created again, so workers never share one and reruns leave none behind.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, make_url, text

POSTGRES_URL = os.environ.get("EARMARK_TEST_POSTGRES_URL", "")


def fresh_postgres(name: str) -> str:
    """The URL of an empty database `<base>_<name>_<worker>`."""
    if not POSTGRES_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("EARMARK_TEST_POSTGRES_URL is not set: CI must test PostgreSQL")
        pytest.skip("set EARMARK_TEST_POSTGRES_URL to test PostgreSQL")
    base = make_url(POSTGRES_URL)
    database = f"{base.database}_{name}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    server = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as db:
        db.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        db.execute(text(f'CREATE DATABASE "{database}"'))
    server.dispose()
    return base.set(database=database).render_as_string(hide_password=False)
