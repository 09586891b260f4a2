"""Several `auditor run` processes on one store, and a run killed with SIGKILL then resumed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

from auditor.store import database_url
from tests.conftest import REPO
from tests.test_scale_support import make_sidecar_calls, store_contents


def _auditor(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AUDITOR_ENGINE": "local"}
    return subprocess.Popen(
        [sys.executable, "-m", "auditor", "run", *args, "--no-report", "--no-export", "-q"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def _worked_on(output: str) -> tuple[int, int]:
    """(calls this process transcribed, contacts it scanned), from its summary lines."""
    transcribed = re.search(r"(\d+) from sidecar transcripts", output)
    scanned = re.search(r"scanned (\d+) contacts", output)
    assert scanned is not None, output
    return (int(transcribed.group(1)) if transcribed else 0), int(scanned.group(1))


def test_two_runs_started_together_do_each_contact_once_and_miss_none(
    db_url: str, tmp_path: Path
) -> None:
    calls = 60
    folder = make_sidecar_calls(tmp_path / "calls", n=calls, accounts=6)
    first = _auditor(str(folder), "--db", db_url, "--out", str(tmp_path / "a"))
    second = _auditor(str(folder), "--db", db_url, "--out", str(tmp_path / "b"))
    outputs = [_finish(first), _finish(second)]

    work = [_worked_on(o) for o in outputs]
    # Each contact was transcribed and scanned by exactly one of the two processes.
    assert sum(w[0] for w in work) == calls, outputs
    assert sum(w[1] for w in work) == calls, outputs
    shared = store_contents(db_url)
    assert len(shared["contacts"]) == calls  # ingesting the folder twice at once added it once
    assert Counter(stage for _, stage, _ in shared["stage_done"]) == {
        "transcribe": calls,
        "scan": calls,
        "scan_contacts": calls,
    }
    assert len(set(shared["findings"])) == len(shared["findings"])  # no finding stored twice
    assert shared["leases"] == []

    alone = tmp_path / "alone.db"
    _finish(_auditor(str(folder), "--db", str(alone), "--out", str(tmp_path / "c")))
    assert shared == store_contents(str(alone))


def _transcribed_and_leased(db: Path) -> tuple[int, int]:
    engine = create_engine(database_url(db))
    try:
        with engine.connect() as conn:
            done = conn.execute(text("SELECT count(*) FROM stage_done WHERE stage = 'transcribe'"))
            leased = conn.execute(text("SELECT count(*) FROM claim"))
            return int(done.scalar_one()), int(leased.scalar_one())
    except Exception:
        return 0, 0  # the schema is not there yet
    finally:
        engine.dispose()


def test_run_killed_with_sigkill_mid_stage_resumes_to_the_same_store(tmp_path: Path) -> None:
    calls = 150
    folder = make_sidecar_calls(tmp_path / "calls", n=calls, accounts=10)
    db = tmp_path / "killed.db"
    victim = _auditor(str(folder), "--db", str(db), "--out", str(tmp_path / "a"))
    deadline = time.monotonic() + 90
    # Kill it while it holds a lease, most likely mid-call (it leases one call at a time).
    while time.monotonic() < deadline:
        done, leased = _transcribed_and_leased(db)
        if done >= 20 and leased:
            break
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    saved, leased = _transcribed_and_leased(db)
    assert 20 <= done <= saved < calls  # killed in the middle of the transcribe stage
    assert leased <= 1

    resumed = _finish(_auditor(str(folder), "--db", str(db), "--out", str(tmp_path / "a")))
    # Only the rest, the call the dead process held included: its lease is released at once.
    assert _worked_on(resumed)[0] == calls - saved

    clean = tmp_path / "clean.db"
    _finish(_auditor(str(folder), "--db", str(clean), "--out", str(tmp_path / "b")))
    assert store_contents(str(db)) == store_contents(str(clean))
