"""The rule engine: loading and refusing rules, normalisation, one-pass scanning, findings."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.engine import load_pack
from auditor.engine.loader import load_pack_folder
from auditor.errors import RuleError
from auditor.models import Category, Channel, Contact, Party, Segment, Speaker
from auditor.textnorm import guess_language, normalize

GOOD_RULE = """\
id: XX-THREAT-001
status: stable
title: test rule
category: threat
severity: high
speaker: collector
languages: [zh]
match:
  phrase: [打给你所有联系人]
cite:
  - law: 《商业银行信用卡业务监督管理办法》
    summary: 不得恐吓
    kind: regulation
rationale: because
examples:
  match: [我就打给你所有联系人]
  no_match: [我们不会联系任何人]
"""


def _pack_dir(tmp_path: Path, rule_text: str, name: str = "XX-THREAT-001") -> Path:
    pack = tmp_path / "xx"
    (pack / "threat").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "name: xx\nlanguage: zh\ntimezone: Asia/Shanghai\n", encoding="utf-8"
    )
    (pack / "threat" / f"{name}.yaml").write_text(rule_text, encoding="utf-8")
    return pack


def test_good_rule_folder_loads_and_matches(tmp_path: Path) -> None:
    pack = load_pack(_pack_dir(tmp_path, GOOD_RULE))
    findings = pack.scan_text("再不还我就打给你所有联系人", language="zh")
    assert [f.rule_id for f in findings] == ["XX-THREAT-001"]
    assert findings[0].quote == "打给你所有联系人"


def test_bad_yaml_is_refused_with_file_and_line(tmp_path: Path) -> None:
    broken = GOOD_RULE.replace("rationale: because", "rationale: [unclosed")
    with pytest.raises(RuleError, match=r"XX-THREAT-001\.yaml:1[5-9]: invalid YAML"):
        load_pack_folder(_pack_dir(tmp_path, broken))


def test_unknown_key_is_refused_naming_rule_field_and_line(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("severity: high", "severity: high\nseverty: low")
    with pytest.raises(RuleError) as err:
        load_pack_folder(_pack_dir(tmp_path, text))
    message = str(err.value)
    assert "XX-THREAT-001.yaml:6" in message
    assert "rule XX-THREAT-001" in message and "severty" in message


def test_unknown_category_is_refused(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("category: threat", "category: rudeness")
    with pytest.raises(RuleError, match=r"\.yaml:4: rule XX-THREAT-001: category"):
        load_pack_folder(_pack_dir(tmp_path, text))


def test_file_name_must_be_the_rule_id(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match=r"must be named XX-THREAT-001\.yaml"):
        load_pack_folder(_pack_dir(tmp_path, GOOD_RULE, name="XX-THREAT-002"))


def test_invalid_regex_is_refused_at_load(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("phrase: [打给你所有联系人]", "regex: ['打给(你']")
    with pytest.raises(RuleError, match=r"XX-THREAT-001.*invalid regex"):
        load_pack(_pack_dir(tmp_path, text))


def test_catastrophic_backtracking_regex_is_refused_at_load(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("phrase: [打给你所有联系人]", "regex: ['(a|aa)+b']")
    with pytest.raises(RuleError, match="backtracks catastrophically"):
        load_pack(_pack_dir(tmp_path, text))


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    folder = _pack_dir(tmp_path, GOOD_RULE)
    (folder / "other").mkdir()
    (folder / "other" / "XX-THREAT-001.yaml").write_text(GOOD_RULE, encoding="utf-8")
    with pytest.raises(RuleError, match="duplicate id"):
        load_pack_folder(folder)


def test_unknown_pack_name_lists_the_known_packs() -> None:
    with pytest.raises(RuleError, match=r"no such rule pack.*'cn'"):
        load_pack("nope")


def test_normalisation_keeps_an_offset_map_into_the_stored_text() -> None:
    stored = "再不還錢\u200b就打給你 所有 聯繫人😡 ＣＡＬＬ"
    norm = normalize(stored)
    assert norm.text == "再不还钱就打给你所有联系人call"
    start = norm.text.index("打给你所有联系人")
    s, e = norm.original_span(start, start + len("打给你所有联系人"))
    assert stored[s:e] == "打給你 所有 聯繫人"


def test_full_width_digits_zero_width_spaces_and_emoji_do_not_hide_a_match() -> None:
    pack = load_pack("cn")
    text = "再不还😡我就打\u200b给你所有联系人"
    findings = [f for f in pack.scan_text(text, language="zh") if f.rule_id == "CN-THREAT-001"]
    assert findings and text[findings[0].span[0] : findings[0].span[1]].startswith("打")
    ids = pack.scan_text("身份证号１１０１０５１９９００３０７１２３９", language="zh")
    assert any(f.rule_id == "CN-PRIVACY-001" for f in ids)


def test_traditional_characters_match_simplified_phrases() -> None:
    pack = load_pack("cn")
    findings = pack.scan_text("你就是個老賴", language="zh")
    assert any(f.rule_id == "CN-INSULT-001" and f.quote == "老賴" for f in findings)


def test_homophone_is_found_by_pinyin_with_lower_confidence() -> None:
    pack = load_pack("cn")
    exact = [f for f in pack.scan_text("你这个老赖", language="zh") if f.rule_id == "CN-INSULT-001"]
    sound = [f for f in pack.scan_text("你这个老来", language="zh") if f.rule_id == "CN-INSULT-001"]
    assert exact and sound
    assert sound[0].evidence.matcher == "phrase:pinyin"
    assert sound[0].confidence < exact[0].confidence


def test_debtor_words_are_not_the_collectors_violation() -> None:
    pack = load_pack("cn")
    assert not pack.scan_text("你们这帮骗子，老赖怎么了", speaker="customer", language="zh")


def _contact(**kw: object) -> Contact:
    base: dict[str, object] = dict(
        external_id="c1",
        channel=Channel.CALL,
        collector_id="w1",
        account_id="A1",
        started_at=datetime(2026, 11, 16, 2, 0, tzinfo=UTC),
        timezone="Asia/Shanghai",
        party_reached=Party.DEBTOR,
        language="zh",
        id=7,
    )
    base.update(kw)
    return Contact(**base)  # type: ignore[arg-type]


def test_finding_points_into_the_stored_segment_and_interpolates_time() -> None:
    pack = load_pack("cn")
    segments = [
        Segment(Speaker.COLLECTOR, 0.0, 4.0, "您好，我是招商银行信用卡中心的工作人员，工号3021。"),
        Segment(Speaker.CUSTOMER, 4.5, 5.0, "嗯"),
        Segment(
            Speaker.COLLECTOR, 10.0, 20.0, "你要是今天还不还钱的话，我们就爆你通讯录，你自己看着办"
        ),
    ]
    findings = [f for f in pack.scan(_contact(), segments) if f.rule_id == "CN-THREAT-001"]
    assert len(findings) == 1
    f = findings[0]
    assert f.contact_id == 7 and f.segment_index == 2 and f.speaker == Speaker.COLLECTOR
    assert segments[2].text[f.span[0] : f.span[1]] == "爆你通讯录"
    assert 10.0 < f.start_s < f.end_s < 20.0
    assert f.ruleset_version == pack.version and f.category == Category.THREAT


def test_number_split_across_segments_of_one_speaker_is_found() -> None:
    pack = load_pack("cn")
    segments = [
        Segment(Speaker.COLLECTOR, 0.0, 2.0, "您的身份证号是110105"),
        Segment(Speaker.COLLECTOR, 2.0, 4.0, "19900307"),
        Segment(Speaker.COLLECTOR, 4.0, 5.0, "1239"),
    ]
    findings = [f for f in pack.scan(_contact(), segments) if f.rule_id == "CN-PRIVACY-001"]
    assert len(findings) == 1
    assert findings[0].segment_index == 0 and findings[0].end_s == 5.0
    assert "19900307" not in findings[0].quote


def test_language_is_guessed_from_the_text_when_unset() -> None:
    assert guess_language("你好，请问是张先生吗") == "zh"
    assert guess_language("Hello, is this John?") == "en"
    pack = load_pack("all")
    contact = _contact(language="", timezone="UTC")
    segs = [Segment(Speaker.COLLECTOR, 0, 2, "you are a deadbeat and a loser")]
    findings = pack.scan(contact, segs, call_rules=False)
    assert findings and all(f.rule_id.startswith("US-") for f in findings)


def test_pack_compiles_every_phrase_into_one_automaton_per_language() -> None:
    pack = load_pack("cn")
    phrases = {p for r in pack.rules if r.rule.match is not None for p in _phrases(r.rule.match)}
    assert set(pack.matchers) == {"zh"}
    automaton_words = set(pack.matchers["zh"].phrases)
    from auditor.textnorm import normalize_phrase

    assert {normalize_phrase(p) for p in phrases} <= automaton_words


def _phrases(cond: object) -> list[str]:
    out: list[str] = []
    phrase = getattr(cond, "phrase", None)
    if phrase:
        out.extend(phrase)
    near = getattr(cond, "near", None)
    if near is not None:
        out.extend(near.a + near.b)
    for sub in (getattr(cond, "any", None) or []) + (getattr(cond, "all", None) or []):
        out.extend(_phrases(sub))
    return out


def test_ruleset_version_changes_when_a_rule_file_changes(tmp_path: Path) -> None:
    folder = _pack_dir(tmp_path, GOOD_RULE)
    before = load_pack(folder).version
    path = folder / "threat" / "XX-THREAT-001.yaml"
    path.write_text(GOOD_RULE.replace("rationale: because", "rationale: because of it"), "utf-8")
    assert load_pack(folder).version != before


def test_regex_rules_run_with_a_timeout_recorded_as_an_error(tmp_path: Path) -> None:
    text = textwrap.dedent(GOOD_RULE).replace(
        "phrase: [打给你所有联系人]", "regex: ['打给你.{0,5}联系人']"
    )
    pack = load_pack(_pack_dir(tmp_path, text))
    hits = pack.matchers["zh"].scan("打给你所有联系人", "zh")
    assert hits.regexes and not hits.regex_errors


def test_chinese_token_patterns_run_on_jieba_segmentation_offline(tmp_path: Path) -> None:
    text = GOOD_RULE.replace(
        "phrase: [打给你所有联系人]",
        'tokens: [[{TEXT: "所有"}, {TEXT: "联系人"}]]',
    )
    pack = load_pack(_pack_dir(tmp_path, text))
    findings = pack.scan_text("再不还钱就打给你所有联系人", language="zh")
    assert [f.quote for f in findings] == ["所有联系人"]
    assert findings[0].evidence.matcher == "tokens"
    # jieba keeps 联系人 whole, so a token pattern does not fire inside another word
    assert not pack.scan_text("所有联系人员", language="zh")  # 所有 | 联系 | 人员
