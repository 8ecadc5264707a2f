"""Database URLs without their secrets, and a last-line scrub of any secret seen.

:func:`redact_url` is how a store is shown anywhere (messages, events, history): the URL
without its password, in every form a user may write one: ``user:pass@host``, a
percent-encoded password (``p%40ss``), a secret query parameter (``?password=...``). A raw
``@`` inside the password and libpq keyword/value strings (``host=... password=...``) are
refused by the store (:func:`refusal`), never echoed.

:func:`remember` keeps the secrets of a store URL (raw, percent-encoded and decoded forms)
for the life of the process, and :func:`scrub` replaces any occurrence of them by ``***``:
the CLI's error paths and the JSON event log pass everything they print through it, since a
driver's error can quote the connection string it was given.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError

#: What stands for a secret in anything shown.
HIDDEN = "***"

#: Query parameters (and libpq keywords) whose value is a secret.
_SECRET_KEY = re.compile(r"pass|secret|token|credential|auth", re.IGNORECASE)
#: A libpq keyword/value connection string (``host=db user=ops password=...``).
_LIBPQ = re.compile(
    r"(?:^|\s)(?:host|hostaddr|port|dbname|user|password|passfile|sslmode|service|"
    r"connect_timeout|options|application_name)\s*=",
    re.IGNORECASE,
)
#: One keyword=value pair of a libpq string: a single-quoted value (with \' and \\) or a word.
_LIBPQ_PAIR = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")

_known: set[str] = set()
_lock = threading.Lock()


def is_libpq(text: str) -> bool:
    """``text`` looks like a libpq keyword/value connection string, not a URL or a path."""
    return "://" not in text and _LIBPQ.search(text) is not None


def _parsed(text: str) -> sa.engine.URL | None:
    try:
        return sa.engine.make_url(text)
    except (ArgumentError, ValueError, TypeError):
        return None


def redact_url(store: str) -> str:
    """The store as messages name it: a path as given, a URL without its password or any
    secret query parameter (``***`` in their place)."""
    text = str(store)
    if is_libpq(text):
        return "(a libpq connection string, not shown)"
    if "://" not in text:
        return text
    url = _parsed(text)
    scheme = text.split("://", 1)[0]
    if url is not None and not url_secrets(text):
        return text
    if url is None:
        return f"{scheme}://..."
    host = url.host
    if host is not None and "@" in host:  # a raw '@' in the password: host holds its tail
        url = url.set(host=host.rsplit("@", 1)[1])
    query = {key: HIDDEN if _SECRET_KEY.search(key) else value for key, value in url.query.items()}
    shown = url.set(query=query).render_as_string(hide_password=True)
    return shown.replace(quote(HIDDEN, safe=""), HIDDEN)


def url_secrets(store: str) -> list[str]:
    """The secrets a store string holds (passwords and secret parameters), as written and
    as a driver may show them; empty strings left out."""
    text = str(store)
    found: list[str] = []
    if is_libpq(text):
        for key, value in _LIBPQ_PAIR.findall(text):
            if _SECRET_KEY.search(key):
                found.append(value)
                if value.startswith("'") and value.endswith("'") and len(value) >= 2:
                    found.append(re.sub(r"\\(.)", r"\1", value[1:-1]))
        return _variants(found)
    if "://" not in text:
        return []
    rest = text.split("://", 1)[1]
    url = _parsed(text)
    if url is not None:
        if url.password is not None:
            found.append(str(url.password))
        for key, value in url.query.items():
            if _SECRET_KEY.search(key):
                found.extend([value] if isinstance(value, str) else list(value))
        if url.host is not None and "@" in url.host and url.password is not None:
            found.append(f"{url.password}@{url.host.rsplit('@', 1)[0]}")
    # as written, whatever a parser makes of it: from the user's ':' to each later '@'
    colon = rest.find(":")
    if colon >= 0 and not any(c in rest[:colon] for c in "/?@"):
        tail = rest[colon + 1 :]
        found.extend(tail[: m.start()] for m in re.finditer("@", tail))
    for key, value in re.findall(r"[?&]([^=&?]+)=([^&]*)", rest):
        if _SECRET_KEY.search(key):
            found.append(value)
    return _variants(found)


def _variants(secrets: list[str]) -> list[str]:
    out: set[str] = set()
    for secret in secrets:
        for form in (
            secret,
            unquote(secret),
            unquote_plus(secret),
            quote(secret, safe=""),
            quote_plus(secret, safe=""),
            quote(unquote(secret), safe=""),
        ):
            if form:
                out.add(form)
                out.add(json.dumps(form, ensure_ascii=True)[1:-1])
                out.add(json.dumps(form, ensure_ascii=False)[1:-1])
    return sorted(out, key=lambda s: (-len(s), s))


def remember(store: str) -> None:
    """Keep ``store``'s secrets for :func:`scrub`, for the life of the process."""
    secrets = url_secrets(store)
    if secrets:
        with _lock:
            _known.update(secrets)


def scrub(text: str) -> str:
    """``text`` with every secret :func:`remember` has seen replaced by ``***``."""
    with _lock:
        known = sorted(_known, key=lambda s: (-len(s), s))
    for secret in known:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return text


_IN_MEMORY = (
    "--store {} is an in-memory SQLite database, which records nothing once the command "
    "ends: give a file (a path, or sqlite:///path/history.db)"
)


def refusal(store: str) -> str | None:
    """Why ``store`` cannot be a run history (a message without any secret), or None."""
    text = str(store)
    if is_libpq(text):
        return (
            "--store looks like a libpq keyword/value connection string (host=... "
            "password=...); leadassign takes a SQLAlchemy URL instead: "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME (percent-encode special "
            "characters of the password). The string is not shown, as it may hold a password"
        )
    if "://" not in text:
        if text.strip() == ":memory:":
            return _IN_MEMORY.format(text)
        return None
    url = _parsed(text)
    if url is None:
        return (
            f"--store {redact_url(text)} is not a valid database URL "
            "(scheme://USER:PASSWORD@HOST:PORT/DBNAME); it is not shown, as it may hold a "
            "password"
        )
    if url.host is not None and "@" in url.host:
        return (
            f"--store {redact_url(text)}: the URL has more than one '@' (a raw '@' in the "
            "password?): percent-encode it as %40 in the password"
        )
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if (
            database in ("", ":memory:")
            or database.startswith("file::memory:")
            or url.query.get("mode") == "memory"
        ):
            return _IN_MEMORY.format(redact_url(text))
    return None


__all__ = ["HIDDEN", "is_libpq", "redact_url", "refusal", "remember", "scrub", "url_secrets"]
