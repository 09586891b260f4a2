"""The weekly report and the scorecards, rendered from a store built with the real Store API."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from pathlib import Path

import pytest

from auditor.report import build_scorecards, build_weekly_report, templates_root
from auditor.report.data import load_week_data
from auditor.report.scoring import compliance_score
from auditor.store import open_store

from .report_support import CARD_NUMBER, ID_NUMBER, MOBILE, build_store

ID_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
CARD_RE = re.compile(r"(?<!\d)\d{16,19}(?!\d)")
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("report")
    store = open_store(root / "db" / "auditor.db")
    result = build_store(store, root / "calls" / "audio")
    return store, result, root


@pytest.fixture(scope="module")
def zh_report(built):
    store, _, root = built
    return build_weekly_report(store, root / "out-zh", week="2026-W47")


@pytest.fixture(scope="module")
def en_report(built):
    store, _, root = built
    return build_weekly_report(
        store,
        root / "out-en",
        week="2026-W47",
        lang="en",
        rule_meta={
            "CN-THREAT-004": {
                "title": "Threatens to call the debtor's contacts",
                "cite": "《商业银行信用卡业务监督管理办法》 第六十八条",
            }
        },
    )


def _ranking(html: str) -> list[tuple[int, str]]:
    return [
        (int(rank), unescape(name))
        for name, rank in re.findall(r'data-collector="([^"]*)" data-rank="(\d+)"', html)
    ]


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, name
    return found.group(1)


def test_collector_with_the_worst_findings_ranks_first_and_scores_follow_the_formula(
    zh_report,
) -> None:
    html = zh_report.weekly_path.read_text(encoding="utf-8")
    ranking = _ranking(html)
    assert [name for _, name in ranking] == [
        "bad_wang",  # critical + 2 high + medium, one per contact, on 4: 100*(1-22/40) = 45
        "mid_chen",  # medium + low on 5 contacts: 100*(1-3/50) = 94
        "us_smith",  # low on 2 contacts: 100*(1-1/20) = 95
        "dismissed_zhao",  # both findings dismissed: 100
        "good_li",
    ]
    assert compliance_score(3, 5) == 94.0 and compliance_score(1, 2) == 95.0
    assert compliance_score(22, 4) == 45.0 and compliance_score(0, 3) == 100.0
    assert compliance_score(50, 5) == 0.0  # every contact wholly non-compliant
    row = re.search(r'data-collector="mid_chen".*?</tr>', html, re.S).group(0)
    assert ">94.0<" in row
    row = re.search(r'data-collector="bad_wang".*?</tr>', html, re.S).group(0)
    assert ">45.0<" in row
    assert "合规分 = 100 ×（1 − 扣分 ÷（10 × 本周联系次数））" in html


def test_one_contact_loses_at_most_what_one_critical_finding_costs() -> None:
    import pandas as pd

    from auditor.report.scoring import capped_points

    counted = pd.DataFrame(
        {"contact_id": [1, 1, 1, 2], "severity": ["critical", "critical", "high", "medium"]}
    )
    points = capped_points(counted)
    assert points.groupby(counted["contact_id"]).sum().to_dict() == {1: 10.0, 2: 2.0}


def test_headline_counts_contacts_and_only_counted_findings(zh_report) -> None:
    html = zh_report.weekly_path.read_text(encoding="utf-8")
    # 18 contacts in the local week W47: 17 calls and 1 SMS; the Chicago call on Sunday 22:30
    # local (Monday in UTC) is in, the Shanghai call on Monday 01:00 local (Sunday UTC) is out.
    assert _figure(html, "contacts") == "18"
    assert "17 通话" in html and "1 消息" in html
    # 10 findings in the week: 2 dismissed and 1 of a preview rule leave 7.
    assert _figure(html, "findings") == "7"
    assert zh_report.contacts == 18 and zh_report.findings_counted == 7
    threat = re.search(r'data-category="threat".*?</tr>', html, re.S).group(0)
    assert '5.6 <span class="count">(1)</span>' in threat  # 1 critical per 18 contacts


def test_week_is_the_debtors_local_iso_week(built) -> None:
    store, _, _ = built
    w47 = load_week_data(store, "2026-W47", "zh")
    w48 = load_week_data(store, "2026-W48", "zh")
    assert "w47-us-late" in set(w47.week_contacts["external_id"])
    assert "w48-sh-early" not in set(w47.week_contacts["external_id"])
    assert list(w48.week_contacts["external_id"]) == ["w48-sh-early"]
    assert w48.monday == date(2026, 11, 23)


def test_default_week_is_the_latest_local_week_with_contacts(built, tmp_path: Path) -> None:
    store, _, _ = built
    result = build_weekly_report(store, tmp_path, scorecards=False)
    assert result.week == "2026-W48"
    assert result.weekly_path == tmp_path / "2026-W48" / "weekly.html"


def test_contact_hour_chart_counts_contacts_in_each_markets_forbidden_hours(zh_report) -> None:
    html = zh_report.weekly_path.read_text(encoding="utf-8")
    assert "中国：22:00–08:00 禁止" in html and "美国：8:00 前与 21:00 后禁止" in html
    # one Shanghai call at 23:30 local, one Chicago call at 22:30 local
    assert _figure(html, "forbidden-1") == "1"
    assert _figure(html, "forbidden-2") == "1"
    assert "<script" not in html.lower()


def test_dismissed_findings_are_struck_through_and_not_counted(zh_report) -> None:
    page = zh_report.scorecard_paths["dismissed_zhao"].read_text(encoding="utf-8")
    articles = re.findall(r'<article class="finding dismissed".*?</article>', page, re.S)
    assert len(articles) == 2
    for article in articles:
        assert 'data-counted="no"' in article
        assert "<del>" in article and "<mark>依法起诉</mark>" in article
        assert "reviewer_a" in article and "lawful statement of consequences" in article
    assert _figure(page, "score") == "100.0" and _figure(page, "counted") == "0"


def test_finding_dismissed_then_confirmed_counts_by_its_latest_decision(zh_report) -> None:
    page = zh_report.scorecard_paths["bad_wang"].read_text(encoding="utf-8")
    assert 'class="finding dismissed"' not in page
    assert "reviewer_c" in page and _figure(page, "counted") == "4"


def test_preview_rule_findings_are_shown_apart_and_not_counted(zh_report) -> None:
    page = zh_report.scorecard_paths["mid_chen"].read_text(encoding="utf-8")
    preview = page.split('<section id="preview">', 1)[1]
    assert "CN-PREVIEW-001" in preview
    assert "CN-PREVIEW-001" not in page.split('<section id="preview">', 1)[0]
    assert _figure(page, "score") == "94.0" and _figure(page, "counted") == "2"


def test_speakers_words_are_marked_in_context_with_a_player_at_the_finding(
    built, zh_report
) -> None:
    _, result, _ = built
    path = zh_report.scorecard_paths["bad_wang"]
    page = path.read_text(encoding="utf-8")
    article = re.search(
        r'<article[^>]*id="f\d+"[^>]*>(?:(?!</article>).)*CN-THREAT-004.*?</article>', page, re.S
    ).group(0)
    assert "再不还我就<mark>打给你所有联系人</mark>" in article
    assert "什么事" in article and "你敢" in article  # the neighbouring segments
    src = re.search(r'<audio controls preload="none" src="([^"]+)"', article).group(1)
    relative, _, fragment = src.partition("#")
    assert fragment == "t=10.0"
    assert (path.parent / relative).resolve() == result.recordings["w47-bad-0"].resolve()


def test_embed_audio_copies_each_recording_beside_the_scorecards(built, tmp_path: Path) -> None:
    store, result, _ = built
    paths = build_scorecards(store, tmp_path, week="2026-W47", embed_audio=True)
    page = paths["bad_wang"].read_text(encoding="utf-8")
    srcs = re.findall(r'<audio controls preload="none" src="([^"#]+)#t=', page)
    assert srcs and all(s.startswith("audio/") for s in srcs)
    for src in srcs:
        copied = paths["bad_wang"].parent / src
        assert (
            copied.read_bytes() == result.recordings[copied.name.split("-", 1)[1][:-4]].read_bytes()
        )


def test_transcript_with_a_script_tag_is_escaped(zh_report) -> None:
    page = zh_report.scorecard_paths["mid_chen"].read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page or (
        "&lt;script&gt;" in page and "alert(" in page
    )


def test_no_generated_page_holds_an_unmasked_id_card_or_mobile_number(zh_report, en_report) -> None:
    pages = [zh_report.weekly_path, *zh_report.scorecard_paths.values()]
    pages += [en_report.weekly_path, *en_report.scorecard_paths.values()]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for pattern in (ID_RE, CARD_RE, MOBILE_RE):
            assert not pattern.search(text), f"{page.name}: {pattern.search(text).group(0)}"
        assert ID_NUMBER not in text and CARD_NUMBER not in text and MOBILE not in text
    # the masked numbers are still there, with their last digits, for a reviewer to tell apart
    privacy = zh_report.scorecard_paths["bad_wang"].read_text(encoding="utf-8")
    assert "4578" in privacy and "0123" in privacy
    weekly = zh_report.weekly_path.read_text(encoding="utf-8")
    assert "5678_broken.wav" in weekly and "cannot decode" in weekly  # the failure, masked


def test_unmasked_report_shows_numbers_and_says_so(built, tmp_path: Path) -> None:
    store, _, _ = built
    result = build_weekly_report(store, tmp_path, week="2026-W47", unmasked=True)
    page = result.scorecard_paths["bad_wang"].read_text(encoding="utf-8")
    assert ID_NUMBER in page and "未遮蔽个人信息" in page


def test_english_report_uses_english_text_dates_and_given_rule_titles(en_report) -> None:
    html = en_report.weekly_path.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "Week 47, 2026 (Nov 16 – Nov 22, 2026)" in html
    assert "Collectors, lowest score first" in html
    assert "Threatens to call the debtor&#39;s contacts" in html
    assert "Nov 17, 2026 10:00" in html
    card = en_report.scorecard_paths["bad_wang"].read_text(encoding="utf-8")
    assert "第六十八条" in card and "Clause" in card


def test_chinese_is_the_default_for_mostly_chinese_contacts(zh_report) -> None:
    html = zh_report.weekly_path.read_text(encoding="utf-8")
    assert zh_report.lang == "zh" and '<html lang="zh-CN">' in html
    assert "2026年第47周（2026年11月16日–11月22日）" in html
    assert "2026年11月17日 10:00" in html


def test_unknown_rule_is_shown_by_its_id(zh_report) -> None:
    html = zh_report.weekly_path.read_text(encoding="utf-8")
    assert "CN-THREAT-004" in html


def test_failures_of_the_week_are_listed(zh_report) -> None:
    section = zh_report.weekly_path.read_text(encoding="utf-8").split('<section id="failures">')[1]
    assert "transcribe" in section and "_broken.wav" in section


def test_scorecard_links_resolve_from_the_weekly_report(zh_report) -> None:
    html = zh_report.weekly_path.read_text(encoding="utf-8")
    links = set(re.findall(r'href="(collector-[^"#]+\.html)', html))
    assert len(links) == 5
    for link in links:
        assert (zh_report.weekly_path.parent / link).is_file()


def test_templates_are_found_in_the_checkout() -> None:
    root = templates_root()
    assert (root / "weekly.html.j2").is_file() and (root / "scorecard.html.j2").is_file()


def test_week_with_no_contacts_renders_an_empty_report(built, tmp_path: Path) -> None:
    store, _, _ = built
    result = build_weekly_report(store, tmp_path, week="2026-W30")
    html = result.weekly_path.read_text(encoding="utf-8")
    assert result.contacts == 0 and _figure(html, "contacts") == "0"
    assert result.scorecard_paths == {}


def test_collector_ids_that_differ_only_in_unsafe_characters_get_their_own_pages() -> None:
    from auditor.report.data import collector_slug

    assert collector_slug("张伟1") == "张伟1"
    assert collector_slug("a/b") != collector_slug("a_b") == "a_b"
    assert "/" not in collector_slug("../../etc") and not collector_slug("../../etc").startswith(
        "."
    )
    assert "13812345678" not in collector_slug("13812345678")


def test_scorecard_states_the_collectors_rank_among_the_team(zh_report, en_report) -> None:
    worst = en_report.scorecard_paths["bad_wang"].read_text(encoding="utf-8")
    assert _figure(worst, "rank") == "Rank 1 of 5 (1 = lowest score)"
    best = zh_report.scorecard_paths["good_li"].read_text(encoding="utf-8")
    assert _figure(best, "rank") == "排名 5 / 5（1 为最低分）"


def test_recording_named_by_a_phone_number_is_copied_under_its_hash(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from auditor.errors import ExportError
    from auditor.models import Category, Channel, Contact, Segment, Severity, Speaker

    from .report_support import _finding

    store = open_store(tmp_path / "db.sqlite")
    recording = tmp_path / "calls" / f"{MOBILE}_20261117.wav"
    recording.parent.mkdir(parents=True)
    recording.write_bytes(b"RIFF-test-audio")
    contact = Contact(
        external_id="c1",
        channel=Channel.CALL,
        collector_id="w1",
        account_id="A1",
        started_at=datetime(2026, 11, 17, 2, 0, tzinfo=UTC),
        timezone="Asia/Shanghai",
        source_path=str(recording),
        source_sha256="ab" * 32,
        language="zh",
    )
    with store.transaction() as conn:
        cid, _ = store.add_contact(conn, contact, None)
    store.save_segments(cid, [Segment(Speaker.COLLECTOR, 1.0, 3.0, "你这个废物")], "v", None)
    finding = _finding(
        cid, "CN-INSULT-001", Category.INSULT, Severity.MEDIUM, 0, (3, 5), "废物", 1.0
    )
    store.save_findings(cid, [finding], "scan", "v", None)
    result = build_weekly_report(store, tmp_path / "out", week="2026-W47")
    page = result.scorecard_paths["w1"].read_text(encoding="utf-8")
    assert MOBILE not in page
    src = re.search(r'<audio controls preload="none" src="([^"#]+)#t=1\.0"', page).group(1)
    assert src == f"audio/{'ab' * 8}.wav"
    assert (result.scorecard_paths["w1"].parent / src).read_bytes() == b"RIFF-test-audio"
    with pytest.raises(ExportError, match="2026-W60"):
        build_weekly_report(store, tmp_path / "out", week="2026-W60")


def test_unknown_or_empty_time_zone_counts_in_utc() -> None:
    import pandas as pd

    from auditor.report.frames import add_local_time

    # Sunday 2026-11-22 20:00 UTC: Monday 04:00 in Shanghai (W48), still Sunday in UTC (W47).
    frame = pd.DataFrame(
        {
            "started_at": [pd.Timestamp("2026-11-22 20:00", tz="UTC")] * 3,
            "timezone": ["", "Asia/Shanghai", "Not/A_Zone"],
        }
    )
    local = add_local_time(frame)
    assert list(local["week"]) == ["2026-W47", "2026-W48", "2026-W47"]
    assert list(local["hour"]) == [20, 4, 20]
