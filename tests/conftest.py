"""Every test records its runs in its own store: ``leadassign solve`` records into
``.leadassign/history.db`` of the working folder by default, which must not be the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = tmp_path_factory.mktemp("store") / "history.db"
    monkeypatch.setenv("LEADASSIGN_STORE", str(store))
    return store


#: Test files that share one PostgreSQL database (``LEADASSIGN_TEST_POSTGRES``; each drops and
#: creates the store's tables): with ``pytest -n 2 --dist loadgroup`` (README) they run on one
#: worker, one after the other; every other test is spread over the workers.
SHARED_DATABASE = {"test_history.py", "test_injection_secrets.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SHARED_DATABASE:
            item.add_marker(pytest.mark.xdist_group("postgres"))
