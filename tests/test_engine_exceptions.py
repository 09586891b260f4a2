"""Exceptions and robustness: negation scope, questions, quotes, homophones, spoken numbers."""

from __future__ import annotations

import pytest

from auditor.engine import load_pack
from auditor.engine.recognizers import find_pii
from auditor.textmask import mask_text
from auditor.textnorm import normalize


def _rules(text: str, language: str = "zh", speaker: str = "collector", party: str = "unknown"):
    pack = load_pack("all")
    return {
        f.rule_id for f in pack.scan_text(text, language=language, speaker=speaker, party=party)
    }


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("我们不会去您单位，也不会联系您的家人", "CN-THREAT-003"),  # negation opens the regex
        ("We will never threaten you or your family.", "US-THREAT-001"),
        ("您作为联系人没有还款义务，只是麻烦您转告", "CN-FALSE-004"),  # negation inside a pair
        ("如长期逾期，银行有权依法起诉并申请强制执行", "CN-FALSE-003"),  # lawful consequence
        ("If the account stays unpaid, the creditor may file a lawsuit.", "US-FALSE-004"),
        ("您说您不是老赖，这个我们理解", "CN-INSULT-001"),  # repeating the debtor's words
        ("You said your husband is gonna kill you if he finds out, I understand.", "US-THREAT-001"),
        ("之前那个同事说要去您家，那是不对的，我们不会上门", "CN-THREAT-003"),  # disowning
        ("我们提供上门服务，您可以预约工作人员上门办理分期", "CN-THREAT-003"),  # 上门服务
        ("Nobody is going to come to your house.", "US-THREAT-003"),
    ],
)
def test_exceptions_excuse_lawful_and_negated_statements(text: str, rule: str) -> None:
    language = "en" if text.isascii() else "zh"
    assert rule not in _rules(text, language)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("你要是不会还钱，我就打给你所有联系人", "CN-THREAT-001"),  # negation in another clause
        ("If you don't pay I'll call your employer and tell them", "US-THREAT-002"),
        ("if you do not pay you will be arrested", "US-FALSE-001"),  # no comma, as ASR writes
        ("信不信我们把你通讯录里的人挨个打一遍？", "CN-THREAT-001"),  # rhetorical question
        ("你是不是脑子有病，这点钱都不还", "CN-INSULT-003"),  # 是不是 is no negation
        ("Why don't you borrow it from your mother", "US-PRESS-001"),  # nor is "why don't you"
        ("你就不能去借点别的平台的钱先把我们这个还上吗？", "CN-PRESS-001"),
    ],
)
def test_negations_and_questions_that_do_not_excuse(text: str, rule: str) -> None:
    language = "en" if text.isascii() else "zh"
    assert rule in _rules(text, language)


def test_two_character_pinyin_matches_only_listed_words() -> None:
    assert "CN-INSULT-001" in _rules("你这个老来")  # 老赖, as Whisper writes it
    assert "CN-INSULT-001" in _rules("你这个费物")  # 废物
    assert not _rules("核对一下，您的出生日期是一九八五年七月二十九号对吗？")  # 出生 ≠ 畜生
    assert not _rules("我看你这边的账单已经出了")  # 看你 ≠ 砍你


def test_old_age_homonym_of_laolai_is_not_an_insult() -> None:
    assert "CN-INSULT-001" not in _rules("您父母老来身体不好，您也不容易，还款的事我们慢慢谈。")


def test_spoken_english_digits_after_social_are_an_ssn() -> None:
    text = normalize(
        "for verification your social is nine two three four five six seven eight nine"
    )
    hits = find_pii(text.text)
    assert [h.kind for h in hits] == ["us_ssn"] and hits[0].digits == "923456789"


def test_never_issued_ssn_area_counts_only_with_context() -> None:
    assert [h.kind for h in find_pii("your social is 923-45-6789")] == ["us_ssn"]
    assert not [h for h in find_pii("ticket 923-45-6789") if h.kind == "us_ssn"]


def test_dates_and_times_are_not_masked_as_numbers() -> None:
    assert mask_text("call at 2026-11-13 22:20 Asia/Shanghai") == (
        "call at 2026-11-13 22:20 Asia/Shanghai"
    )
    assert mask_text("2026-11-13 13812345678") == "2026-11-13 138****5678"


def test_contact_hours_quote_keeps_the_time() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from auditor.models import Channel, Contact

    pack = load_pack("cn")
    late = Contact(
        external_id="c",
        channel=Channel.CALL,
        collector_id="w",
        account_id="A",
        started_at=datetime(2026, 11, 13, 22, 20, tzinfo=ZoneInfo("Asia/Shanghai")),
        timezone="Asia/Shanghai",
        language="zh",
        id=1,
    )
    found = [f for f in pack.scan(late, []) if f.rule_id == "CN-HOURS-001"]
    assert found[0].quote == "call 2026-11-13 22:20 Asia/Shanghai"


def test_address_read_out_is_a_privacy_finding_but_not_by_the_debtor() -> None:
    text = "你现在住的是浦东新区张杨路一千二百号十八楼一八零三室，我们资料上写得清清楚楚。"
    assert "CN-PRIVACY-004" in _rules(text)
    assert "CN-PRIVACY-004" not in _rules(text, speaker="customer")
