"""`auditor run` end to end on calls with sidecar transcripts (no Whisper time), and a run killed
mid-batch then resumed."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli

from .conftest import MANIFEST_HEADER, REPO, write_silence_wav
from .test_scale_support import store_contents

SCRIPTS = [
    [
        ("collector", "您好，我是招商银行信用卡中心的催收专员，工号3021。请问是张伟先生本人吗？"),
        ("customer", "是我。"),
        ("collector", "您的信用卡已经逾期三十天，最低还款额是两千元，请您今天处理一下。"),
    ],
    [
        ("collector", "喂，张伟是吧，你这个老赖，再不还钱就爆你通讯录，让你全家都知道。"),
        ("customer", "你们怎么能这样说话？"),
    ],
]


def make_folder(root: Path, calls: int) -> Path:
    folder = root / "calls"
    rows = []
    for i in range(calls):
        audio = write_silence_wav(folder / "audio" / f"c{i:04d}.wav", seconds=0.05)
        lines = [
            json.dumps(
                {"speaker": who, "start": 2.0 * n, "end": 2.0 * n + 1.5, "text": text},
                ensure_ascii=False,
            )
            for n, (who, text) in enumerate(SCRIPTS[i % 2])
        ]
        audio.with_name(audio.name + ".transcript.jsonl").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
        day, hour = 16 + (i // 40) % 5, 9 + i % 8
        rows.append(
            f"audio/c{i:04d}.wav,c{i:04d},zh_w{i % 3},team_a,A{i % 50:04d},"
            f"2026-11-{day}T{hour:02d}:{i % 60:02d}:00+08:00,Asia/Shanghai,debtor\n"
        )
    (folder / "manifest.csv").write_text(MANIFEST_HEADER + "".join(rows), encoding="utf-8")
    return folder


def test_run_audits_a_folder_end_to_end_and_a_second_run_does_nothing_new(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, calls=6)
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(cli, ["run", str(folder), "--out", str(out), "--rules", "cn", "-q"])
    assert first.exit_code == 0, first.output
    assert "6 new calls" in first.output and "6 from sidecar transcripts" in first.output
    content = store_contents(str(out / "auditor.db"))
    assert len(content["contacts"]) == 6 and len(content["segments"]) == 15
    abusive = {f[2] for f in content["findings"] if f[0] == "c0001"}
    assert {"CN-INSULT-001", "CN-THREAT-001"} <= abusive
    polite = {f[2] for f in content["findings"] if f[0] == "c0000"}
    assert not polite & {"CN-INSULT-001", "CN-THREAT-001"}
    weekly = out / "reports" / "2026-W47" / "weekly.html"
    assert "zh_w1" in weekly.read_text(encoding="utf-8")
    assert (out / "export" / "MANIFEST.json").is_file()
    verified = runner.invoke(cli, ["verify", str(out / "export")])
    assert verified.exit_code == 0, verified.output

    second = runner.invoke(cli, ["run", str(folder), "--out", str(out), "--rules", "cn", "-q"])
    assert second.exit_code == 0, second.output
    assert "0 new calls (6 already stored)" in second.output
    assert "0 pending" in second.output and "scanned 0 contacts" in second.output
    assert store_contents(str(out / "auditor.db")) == content


def test_bad_input_is_reported_with_exit_code_3_and_the_rest_completes(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, calls=2)
    (folder / "audio" / "broken.wav").write_bytes(b"RIFF\x00\x00")
    with (folder / "manifest.csv").open("a", encoding="utf-8") as manifest:
        manifest.write(
            "audio/broken.wav,cb,zh_w0,team_a,A1,2026-11-16T10:00:00+08:00,Asia/Shanghai,debtor\n"
        )
        manifest.write(
            "audio/gone.wav,cg,zh_w0,team_a,A1,2026-11-16T10:00:00+08:00,Asia/Shanghai,debtor\n"
        )
    result = CliRunner().invoke(
        cli, ["run", str(folder), "--out", str(tmp_path / "out"), "--rules", "cn", "-q"]
    )
    assert result.exit_code == 3, result.output
    assert "3 new calls" in result.output and "1 failed" in result.output
    db = sqlite3.connect(tmp_path / "out" / "auditor.db")
    failures = sorted(db.execute("SELECT stage, path FROM failure"))
    assert [stage for stage, _ in failures] == ["ingest", "transcribe"]
    assert failures[1][1].endswith("broken.wav")
    assert db.execute("SELECT count(*) FROM segment").fetchone()[0] == 5


@pytest.mark.slow
def test_a_run_killed_mid_batch_resumes_to_the_same_store_as_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    calls = 400
    folder = make_folder(tmp_path, calls=calls)
    command = [
        sys.executable,
        "-m",
        "auditor",
        "run",
        str(folder),
        "--rules",
        "cn",
        "--quiet",
        "--no-report",
        "--no-export",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    killed_db = tmp_path / "killed" / "auditor.db"
    process = subprocess.Popen(
        [*command, "--out", str(killed_db.parent)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    done = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if killed_db.exists():
            try:
                with sqlite3.connect(killed_db, timeout=1) as conn:
                    done = conn.execute(
                        "SELECT count(*) FROM stage_done WHERE stage = 'transcribe'"
                    ).fetchone()[0]
            except sqlite3.OperationalError:
                done = 0  # the schema is still being created
            if done >= 5:
                break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 5 <= done < calls, f"the kill did not land mid-batch ({done} of {calls} done)"

    resumed = subprocess.run(
        [*command, "--out", str(killed_db.parent)], env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "0 new calls (400 already stored)" in resumed.stdout

    clean_db = tmp_path / "clean" / "auditor.db"
    clean = subprocess.run(
        [*command, "--out", str(clean_db.parent)], env=env, capture_output=True, text=True
    )
    assert clean.returncode == 0, clean.stderr

    killed, uninterrupted = store_contents(str(killed_db)), store_contents(str(clean_db))
    assert len(uninterrupted["segments"]) == 200 * 3 + 200 * 2
    assert killed == uninterrupted


def _ranking_scores(weekly: Path) -> dict[str, float]:
    html = weekly.read_text(encoding="utf-8")
    rows = re.findall(
        r'<tr data-collector="([^"]+)".*?<span class="score [^"]*">([^<]+)</span>', html, re.S
    )
    return {collector: float(score) for collector, score in rows}


def test_dismissing_a_collectors_findings_in_review_raises_their_score_in_the_report(
    tmp_path: Path,
) -> None:
    folder = make_folder(tmp_path, calls=6)
    out = tmp_path / "out"
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["run", str(folder), "--out", str(out), "--rules", "cn", "-q"]).exit_code
        == 0
    )
    weekly = out / "reports" / "2026-W47" / "weekly.html"
    before = _ranking_scores(weekly)
    # zh_w1 made calls c0001 and c0004 (the abusive script, one per call); dismiss all of them.
    db = sqlite3.connect(out / "auditor.db")
    ids = [
        str(i)
        for (i,) in db.execute(
            "SELECT f.id FROM finding f JOIN contact c ON c.id = f.contact_id "
            "WHERE c.collector_id = 'zh_w1'"
        )
    ]
    db.close()
    assert ids and before["zh_w1"] < 100.0
    dismissed = runner.invoke(
        cli,
        [
            "review",
            "dismiss",
            *ids,
            "--reason",
            "scripted test call",
            "--reviewer",
            "qa",
            "--out",
            str(out),
        ],
    )
    assert dismissed.exit_code == 0, dismissed.output
    reported = runner.invoke(cli, ["report", "--week", "2026-W47", "--out", str(out), "-q"])
    assert reported.exit_code == 0, reported.output
    after = _ranking_scores(weekly)
    assert after["zh_w1"] == 100.0
    assert after["zh_w0"] == before["zh_w0"]  # another collector's findings still count
    page = (out / "reports" / "2026-W47" / "collector-zh_w1.html").read_text(encoding="utf-8")
    assert 'class="finding dismissed"' in page
