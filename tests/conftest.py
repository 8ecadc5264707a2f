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
