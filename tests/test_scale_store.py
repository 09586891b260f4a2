"""The store under many workers: lost connections, bad URLs, leases of dead workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, event, text

from auditor.cli import cli
from auditor.errors import StoreError
from auditor.ingest import ingest_folder
from auditor.store import open_store
from auditor.store.leases import holder_is_dead, release_dead_leases, worker_name
from auditor.transcribe import TranscribeOptions
from auditor.transcribe.stage import transcribe_pending
from tests.test_scale_support import make_sidecar_calls


def _ingested(url: str, folder: Path) -> Any:
    store = open_store(url)
    run_id = store.begin_run("test")
    ingest_folder(store, folder, run_id)
    return store, run_id


def _kill_own_backend_on_segment_insert(store: Any, url: str, times: int) -> list[int]:
    """Terminate the store's PostgreSQL backend inside its transcript transaction, `times` times
    (the way a database restart or fail-over cuts a worker off mid-write)."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    killed: list[int] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def kill(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO segment") and len(killed) < times:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)

    return killed


def test_connection_lost_mid_write_is_retried_and_nothing_is_lost(
    pg_database: str, tmp_path: Path
) -> None:
    folder = make_sidecar_calls(tmp_path / "calls", n=6)
    store, run_id = _ingested(pg_database, folder)
    killed = _kill_own_backend_on_segment_insert(store, pg_database, times=2)

    summary = transcribe_pending(store, TranscribeOptions(), run_id, use_cache=False)

    assert len(killed) == 2  # the backend really was terminated inside a write, twice
    assert (summary.sidecar, summary.failed) == (6, 0)
    assert store.count("segment") == 6 * 6
    assert store.pending("transcribe", summary.stage_version, channel="call") == []
    assert store.count("claim") == 0
    assert store.failures() == []


def test_connection_that_stays_lost_is_reported_and_earlier_contacts_stay(
    pg_database: str, tmp_path: Path
) -> None:
    folder = make_sidecar_calls(tmp_path / "calls", n=4)
    store, run_id = _ingested(pg_database, folder)
    # The first contact saves; from then on every attempt of the second is cut off.
    saved: list[int] = []
    admin = create_engine(pg_database, isolation_level="AUTOCOMMIT")

    @event.listens_for(store.engine, "before_cursor_execute")
    def kill(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO segment"):
            if not saved:
                saved.append(1)
                return
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    with pytest.raises(StoreError) as raised:
        transcribe_pending(store, TranscribeOptions(), run_id, use_cache=False)

    message = str(raised.value)
    assert "could not write the transcript of contact" in message
    assert "after 5 attempts" in message
    assert "\n" not in message
    event.remove(store.engine, "before_cursor_execute", kill)
    assert store.count("segment") == 6  # the contact saved before the outage is still there


@pytest.mark.parametrize(
    "url, reason",
    [
        ("postgresql://postgres@127.0.0.1:1/auditor", "Connection refused"),
        ("postgresql://no_such_role@{pg_host}/postgres", 'role "no_such_role" does not exist'),
        ("mysql+nosuchdriver://x@y/z", "not a usable database URL"),
    ],
)
def test_unusable_database_is_one_line_not_a_traceback(
    url: str, reason: str, tmp_path: Path
) -> None:
    from tests.conftest import PG_URL

    if "{pg_host}" in url:
        if not PG_URL:
            pytest.skip("needs AUDITOR_TEST_PG for a reachable server")
        url = url.format(pg_host=PG_URL.split("@", 1)[1].split("/", 1)[0])
    folder = make_sidecar_calls(tmp_path / "calls", n=1)
    result = CliRunner().invoke(
        cli, ["run", str(folder), "--db", url, "--out", str(tmp_path / "out"), "-q"]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert reason in lines[0]


def test_password_is_not_printed_when_the_database_refuses(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["db", "status", "--db", "postgresql://auditor:s3cret-pw@127.0.0.1:1/auditor"],
    )
    assert result.exit_code == 1
    assert "s3cret-pw" not in result.output and "cannot open the database" in result.output


def test_leases_of_dead_local_workers_are_released(db_url: str, tmp_path: Path) -> None:
    folder = make_sidecar_calls(tmp_path / "calls", n=3)
    store, _ = _ingested(db_url, folder)
    dead = "{}:999999999:0000dead".format(worker_name().split(":")[0])
    elsewhere = "another-host:1:abcd"
    alive = worker_name()
    first, second, third = (c.id for c in store.contacts())
    assert [c.id for c in store.claim("transcribe", "v1", dead, 1)] == [first]
    assert [c.id for c in store.claim("transcribe", "v1", elsewhere, 1)] == [second]
    assert [c.id for c in store.claim("transcribe", "v1", alive, 1)] == [third]
    assert holder_is_dead(dead) and not holder_is_dead(elsewhere) and not holder_is_dead(alive)

    assert release_dead_leases(store, "transcribe") == 1
    assert sorted(c for c, _ in store.leases("transcribe")) == [second, third]
    # The released contact can be taken again at once; the others stay with their holders.
    assert [c.id for c in store.claim("transcribe", "v1", alive, 5)] == [first]


def test_claimed_skips_what_it_released_and_nothing_else(db_url: str, tmp_path: Path) -> None:
    folder = make_sidecar_calls(tmp_path / "calls", n=4)
    store, run_id = _ingested(db_url, folder)
    taken = []
    for contact in store.claimed("transcribe", "v1", worker_name(), batch=1):
        taken.append(contact.external_id)
        if contact.external_id == "s001":
            store.release(contact.id, "transcribe")  # failed: not again in this iteration
        else:
            store.save_segments(contact.id, [], "v1", run_id)
    assert sorted(taken) == ["s000", "s001", "s002", "s003"]  # each once
    assert store.count("claim") == 0
    # A later iteration (the next run) tries the failed one again, and only it.
    assert [c.external_id for c in store.claimed("transcribe", "v1", worker_name())] == ["s001"]
