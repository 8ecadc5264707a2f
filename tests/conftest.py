"""Every test records its runs in its own store: ``leadassign solve`` records into
``.leadassign/history.db`` of the working folder by default, which must not be the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker gets its own PostgreSQL database.

    The run-history tests empty the database named by ``LEADASSIGN_TEST_POSTGRES`` before each
    test; two workers sharing one database would empty it under each other. Each worker creates
    ``leadassign_test_<worker>`` on the same server and points the variable at it, before any
    test module reads it. Without xdist, or without a reachable server, nothing changes (the
    PostgreSQL tests skip when the server cannot be reached).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("LEADASSIGN_TEST_POSTGRES")
    if not worker or not url:
        return
    server = sa.engine.make_url(url)
    name = f"leadassign_test_{worker}"
    try:
        engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except sa.exc.SQLAlchemyError:
        return
    os.environ["LEADASSIGN_TEST_POSTGRES"] = server.set(database=name).render_as_string(
        hide_password=False
    )


@pytest.fixture(autouse=True)
def _own_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = tmp_path_factory.mktemp("store") / "history.db"
    monkeypatch.setenv("LEADASSIGN_STORE", str(store))
    return store
