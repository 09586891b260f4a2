"""A folder of short calls whose transcripts sit beside them as sidecars, so the scale tests
exercise every stage and both engines without spending Whisper time."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import write_silence_wav

MANIFEST = (
    "file,call_id,collector_id,team,account_id,start_time,timezone,party_reached,"
    "direction,collector_channel,language,connected\n"
)

# What collectors and debtors say in these calls: threats, insults, personal data, and calm
# lines, so the rule packs have findings to produce.
COLLECTOR_LINES = [
    "您好，我是信用卡中心的工作人员，您的账单已经逾期三十天了。",
    "再不还我就把你欠钱的事发到你所有联系人手机上。",
    "你这种老赖就是骗子，全家都不要脸。",
    "请您今天下午五点前还款，否则我们会上门找你单位领导。",
    "我们这边可以给您办理分期，请问您什么时候方便还款？",
    "Your account is past due. If you do not pay today we will have you arrested.",
]
CUSTOMER_LINES = [
    "我最近失业了，能不能宽限几天。",
    "我的身份证号是110101199003077777，你们核实一下。",
    "你们是不是要打给我所有联系人？",
    "好的，我明天就还。",
]


def make_sidecar_calls(folder: Path, n: int = 12, accounts: int = 2) -> Path:
    """`n` calls over `accounts` accounts (several calls a day each, for the frequency rules)."""
    rows = []
    for i in range(n):
        name = f"audio/s{i:03d}.wav"
        recording = write_silence_wav(folder / name, seconds=0.2)
        lines = []
        t = 0.0
        for k in range(3):
            collector = COLLECTOR_LINES[(i + k) % len(COLLECTOR_LINES)]
            customer = CUSTOMER_LINES[(i * 3 + k) % len(CUSTOMER_LINES)]
            lines.append({"speaker": "collector", "start": t, "end": t + 3.0, "text": collector})
            lines.append({"speaker": "customer", "start": t + 3.5, "end": t + 6, "text": customer})
            t += 7.0
        Path(f"{recording}.transcript.jsonl").write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
            encoding="utf-8",
        )
        hour = 7 + (i * 5) % 15  # some calls before 8:00 or after 21:00 local time
        minute = (i * 7) % 60
        language = "en" if COLLECTOR_LINES[i % len(COLLECTOR_LINES)].startswith("Your") else "zh"
        rows.append(
            f"{name},s{i:03d},zh_w{i % 3:02d},team_a,A{i % accounts:04d},"
            f"2026-11-16T{hour:02d}:{minute:02d}:00+08:00,Asia/Shanghai,debtor,outbound,left,"
            f"{language},true\n"
        )
    (folder / "manifest.csv").write_text(MANIFEST + "".join(rows), encoding="utf-8")
    return folder


def store_contents(db: str) -> dict[str, list[tuple]]:
    """What the stages stored, keyed by the call id instead of row ids or run ids, sorted."""
    from sqlalchemy import select

    from auditor.store import open_store
    from auditor.store import schema as t

    store = open_store(db, create=False)
    ext = t.contact.c.external_id
    with store.engine.connect() as conn:
        segments = conn.execute(
            select(
                ext,
                t.segment.c.idx,
                t.segment.c.speaker,
                t.segment.c.start_s,
                t.segment.c.end_s,
                t.segment.c.text,
            ).join(t.contact, t.contact.c.id == t.segment.c.contact_id)
        ).all()
        findings = conn.execute(
            select(
                ext,
                t.finding.c.stage,
                t.finding.c.rule_id,
                t.finding.c.segment_index,
                t.finding.c.span_start,
                t.finding.c.span_end,
                t.finding.c.start_s,
                t.finding.c.severity,
                t.finding.c.quote,
                t.finding.c.evidence,
                t.finding.c.related_contacts,
            ).join(t.contact, t.contact.c.id == t.finding.c.contact_id)
        ).all()
        done = conn.execute(
            select(ext, t.stage_done.c.stage, t.stage_done.c.version).join(
                t.contact, t.contact.c.id == t.stage_done.c.contact_id
            )
        ).all()
        contacts = conn.execute(select(ext, t.contact.c.version, t.contact.c.duration_s)).all()
        leases = conn.execute(select(t.claim.c.contact_id)).all()
    store.close()
    # related_contacts holds row ids: the same store built twice numbers contacts alike only
    # when ingested in the same order, which both engines do (one ingest per run).
    return {
        "contacts": sorted(tuple(r) for r in contacts),
        "segments": sorted(tuple(r) for r in segments),
        "findings": sorted(tuple(r) for r in findings),
        "stage_done": sorted(tuple(r) for r in done),
        "leases": sorted(tuple(r) for r in leases),
    }
