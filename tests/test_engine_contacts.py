"""Call-level (procedure), third-party and metadata (hours, frequency) rules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from auditor.engine import load_pack
from auditor.models import Category, Channel, Contact, Direction, Party, Segment, Speaker

SH = ZoneInfo("Asia/Shanghai")
CHI = ZoneInfo("America/Chicago")


def _contact(cid: int, when: datetime, **kw: object) -> Contact:
    base: dict[str, object] = dict(
        external_id=f"c{cid}",
        channel=Channel.CALL,
        collector_id="w1",
        account_id="A1",
        started_at=when.astimezone(ZoneInfo("UTC")),
        timezone=str(when.tzinfo),
        id=cid,
        language="zh" if str(when.tzinfo) == "Asia/Shanghai" else "en",
    )
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


def _ids(findings: list) -> set[str]:
    return {f.rule_id for f in findings}


def test_call_without_self_identification_in_first_30s_is_a_procedure_finding() -> None:
    pack = load_pack("cn")
    segments = [
        Segment(Speaker.COLLECTOR, 0.5, 3.0, "喂，张三是吧，你欠的钱什么时候还"),
        Segment(Speaker.CUSTOMER, 3.5, 4.0, "你是谁"),
    ]
    findings = [
        f
        for f in pack.scan(_contact(1, datetime(2026, 11, 16, 10, tzinfo=SH)), segments)
        if f.rule_id == "CN-PROC-001"
    ]
    assert len(findings) == 1
    f = findings[0]
    assert f.category == Category.PROCEDURE and f.segment_index is None
    assert f.evidence.matcher == "call:absence" and f.end_s == 4.0


def test_debt_before_identity_verification_points_at_the_debt_words() -> None:
    pack = load_pack("cn")
    segments = [
        Segment(
            Speaker.COLLECTOR, 0.5, 4.0, "您好，我是招商银行信用卡中心的，工号3021，您的账单逾期了"
        ),
        Segment(Speaker.CUSTOMER, 4.5, 5.0, "啊？"),
        Segment(Speaker.COLLECTOR, 5.5, 7.0, "请问是张三先生本人吗"),
    ]
    contact = _contact(1, datetime(2026, 11, 16, 10, tzinfo=SH))
    found = [f for f in pack.scan(contact, segments) if f.rule_id == "CN-PROC-002"]
    assert len(found) == 1 and found[0].segment_index == 0
    assert segments[0].text[found[0].span[0] : found[0].span[1]] == "账单"
    assert "CN-PROC-001" not in _ids(pack.scan(contact, segments))


def test_unanswered_call_has_no_procedure_findings() -> None:
    pack = load_pack("cn")
    contact = _contact(1, datetime(2026, 11, 16, 10, tzinfo=SH), connected=False)
    assert not pack.scan(contact, [])


def test_debt_words_to_a_third_party_are_a_privacy_finding() -> None:
    pack = load_pack("cn")
    segments = [Segment(Speaker.COLLECTOR, 0.5, 3.0, "他的信用卡已经逾期三个月了")]
    when = datetime(2026, 11, 16, 10, tzinfo=SH)
    third = pack.scan(_contact(1, when, party_reached=Party.THIRD_PARTY), segments)
    debtor = pack.scan(_contact(2, when, party_reached=Party.DEBTOR), segments)
    assert "CN-PRIVACY-005" in _ids(third)
    assert "CN-PRIVACY-005" not in _ids(debtor)


def test_third_party_is_recognised_from_the_words_when_metadata_is_unknown() -> None:
    pack = load_pack("cn")
    segments = [
        Segment(Speaker.COLLECTOR, 0.5, 2.0, "您好，请问张三在吗"),
        Segment(Speaker.CUSTOMER, 2.5, 3.5, "他不在，我是他妈"),
        Segment(Speaker.COLLECTOR, 4.0, 6.0, "那麻烦您跟他说一下，他欠款还没还"),
    ]
    contact = _contact(1, datetime(2026, 11, 16, 10, tzinfo=SH), party_reached=Party.UNKNOWN)
    found = [f for f in pack.scan(contact, segments) if f.rule_id == "CN-PRIVACY-005"]
    assert found and found[0].segment_index == 2
    assert "someone other than the debtor" in found[0].evidence.why
    # the same words of a debtor call are no disclosure, and no mini-Miranda is asked of it
    assert not [
        f
        for f in pack.scan(
            _contact(2, datetime(2026, 11, 16, 10, tzinfo=SH), party_reached=Party.DEBTOR), segments
        )
        if f.rule_id == "CN-PRIVACY-005"
    ]


def test_call_at_night_in_the_debtors_zone_is_flagged_not_in_utc() -> None:
    pack = load_pack("cn")
    late = _contact(1, datetime(2026, 11, 16, 22, 30, tzinfo=SH))
    day = _contact(2, datetime(2026, 11, 16, 14, 30, tzinfo=SH))
    inbound = _contact(3, datetime(2026, 11, 16, 23, 30, tzinfo=SH), direction=Direction.INBOUND)
    found = [f for f in pack.scan(late, []) if f.rule_id == "CN-HOURS-001"]
    assert len(found) == 1 and "22:30 Asia/Shanghai" in found[0].evidence.why
    assert "CN-HOURS-001" not in _ids(pack.scan(day, []))
    assert "CN-HOURS-001" not in _ids(pack.scan(inbound, []))


def test_us_hours_use_the_consumers_zone() -> None:
    pack = load_pack("us")
    # 21:30 in Chicago is 22:30 in New York and 03:30 UTC: late wherever you look from
    found = pack.scan(_contact(1, datetime(2026, 11, 16, 21, 30, tzinfo=CHI)), [])
    assert "US-TIME-001" in _ids(found)
    fine = pack.scan(_contact(2, datetime(2026, 11, 16, 20, 30, tzinfo=CHI)), [])
    assert "US-TIME-001" not in _ids(fine)


def test_fourth_connected_call_of_a_day_is_flagged_with_the_related_calls() -> None:
    pack = load_pack("cn")
    calls = [_contact(i, datetime(2026, 11, 16, 9 + i, tzinfo=SH)) for i in range(1, 5)]
    calls.append(_contact(9, datetime(2026, 11, 16, 15, tzinfo=SH), account_id="OTHER"))
    by_contact = pack.scan_contacts(calls)
    flagged = {cid: [f for f in fs if f.rule_id == "CN-FREQ-001"] for cid, fs in by_contact.items()}
    assert [cid for cid, fs in flagged.items() if fs] == [4]
    assert flagged[4][0].related_contact_ids == (1, 2, 3)
    assert flagged[4][0].category == Category.CONTACT_FREQUENCY


def test_daily_cap_is_configurable_and_weekly_cap_is_off_by_default() -> None:
    calls = [_contact(i, datetime(2026, 11, 16, 8 + i, tzinfo=SH)) for i in range(1, 6)]
    default = load_pack("cn").scan_contacts(calls)
    assert not any(f.rule_id == "CN-FREQ-003" for fs in default.values() for f in fs)
    relaxed = load_pack("cn", overrides={"daily_call_cap": 5}).scan_contacts(calls)
    assert not any(f.rule_id == "CN-FREQ-001" for fs in relaxed.values() for f in fs)
    weekly = load_pack("cn", overrides={"weekly_cap": 2}).scan_contacts(calls)
    assert [cid for cid, fs in weekly.items() if any(f.rule_id == "CN-FREQ-003" for f in fs)] == [
        3,
        4,
        5,
    ]


def test_reg_f_seven_in_seven_and_seven_days_after_a_conversation() -> None:
    pack = load_pack("us")
    attempts = [
        _contact(i, datetime(2026, 11, 16 + i // 2, 9 + i % 2, tzinfo=CHI), connected=False)
        for i in range(8)
    ]
    by_contact = pack.scan_contacts(attempts)
    seven = [cid for cid, fs in by_contact.items() if any(f.rule_id == "US-FREQ-001" for f in fs)]
    assert seven == [7]
    talk = _contact(20, datetime(2026, 11, 16, 10, tzinfo=CHI), account_id="B")
    day7 = _contact(21, datetime(2026, 11, 22, 10, tzinfo=CHI), account_id="B", connected=False)
    day8 = _contact(22, datetime(2026, 11, 23, 10, tzinfo=CHI), account_id="B", connected=False)
    after = pack.scan_contacts([talk, day7, day8])
    assert [f.rule_id for f in after[21]] == ["US-FREQ-002"]
    assert after[21][0].related_contact_ids == (20,)
    assert after[22] == []


def test_mini_miranda_missing_only_on_calls_with_the_consumer() -> None:
    pack = load_pack("us")
    segs = [
        Segment(Speaker.COLLECTOR, 0.5, 3.0, "Hi John, this is Mike with ABC about your balance.")
    ]
    when = datetime(2026, 11, 16, 10, tzinfo=CHI)
    assert "US-PROC-001" in _ids(pack.scan(_contact(1, when, party_reached=Party.DEBTOR), segs))
    assert "US-PROC-001" not in _ids(
        pack.scan(_contact(2, when, party_reached=Party.THIRD_PARTY), segs)
    )


def test_message_without_debt_collector_disclosure_and_opt_out() -> None:
    pack = load_pack("us")
    when = datetime(2026, 11, 16, 10, tzinfo=CHI)
    sms = _contact(1, when, channel=Channel.SMS)
    bare = pack.scan(sms, [Segment(Speaker.COLLECTOR, 0, 0, "Your balance of $900 is past due.")])
    assert {"US-PROC-004", "US-PROC-005"} <= _ids(bare)
    good = pack.scan(
        sms,
        [
            Segment(
                Speaker.COLLECTOR,
                0,
                0,
                "This is from a debt collector. Balance $900. Reply STOP to opt out.",
            )
        ],
    )
    assert not {"US-PROC-004", "US-PROC-005"} & _ids(good)


def test_mono_recording_runs_collector_rules_at_lower_confidence() -> None:
    pack = load_pack("cn")
    when = datetime(2026, 11, 16, 10, tzinfo=SH)
    text = "你这个老赖"
    stereo = pack.scan(_contact(1, when), [Segment(Speaker.COLLECTOR, 0, 2, text)])
    mono = pack.scan(_contact(1, when), [Segment(Speaker.UNKNOWN, 0, 2, text)])
    s = next(f for f in stereo if f.rule_id == "CN-INSULT-001")
    m = next(f for f in mono if f.rule_id == "CN-INSULT-001")
    assert m.confidence < s.confidence and m.speaker == Speaker.UNKNOWN


def test_self_identification_is_found_in_whisper_spellings_of_staff_number() -> None:
    pack = load_pack("cn")
    when = datetime(2026, 11, 16, 10, tzinfo=SH)
    for opening in ("您好 华信您行信用卡中心", "所以下班划信银行的照刚"):
        segments = [
            Segment(Speaker.COLLECTOR, 0.3, 2.8, opening),
            Segment(Speaker.COLLECTOR, 2.9, 5.0, "封号3088 请问是刘洋先生吗"),
        ]
        assert "CN-PROC-001" not in _ids(pack.scan(_contact(1, when), segments))
    bare = [Segment(Speaker.COLLECTOR, 0.3, 2.8, "喂 你那个钱什么时候还")]
    assert "CN-PROC-001" in _ids(pack.scan(_contact(1, when), bare))
