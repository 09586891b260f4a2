"""Interface text of the reports in Chinese and English, and numbers and dates as each reader
writes them (2026年11月16日 / Nov 16, 2026)."""

from __future__ import annotations

from datetime import date, datetime

LANGS = ("zh", "en")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

TEXT: dict[str, dict[str, str]] = {
    "weekly_title": {"zh": "催收合规周报", "en": "Collection compliance weekly report"},
    "scorecard_title": {"zh": "催收员合规记分卡", "en": "Collector compliance scorecard"},
    "week": {"zh": "周", "en": "Week"},
    "week_note": {
        "zh": "周按 ISO 周（周一至周日）计，以债务人所在时区的当地日期归入；时区未知的联系按 UTC 计。",
        "en": "Weeks are ISO weeks (Monday to Sunday) of the contact's date in the debtor's local "
        "time zone; contacts with an unknown zone count in UTC.",
    },
    "headline": {"zh": "本周概况", "en": "This week at a glance"},
    "contacts_audited": {"zh": "已审核联系", "en": "Contacts audited"},
    "calls": {"zh": "通话", "en": "calls"},
    "messages": {"zh": "消息", "en": "messages"},
    "unanswered": {"zh": "未接通", "en": "unanswered"},
    "audio_hours": {"zh": "录音时长（小时）", "en": "Audio hours"},
    "findings_counted": {"zh": "计入的违规", "en": "Findings counted"},
    "per_100": {"zh": "每百次联系", "en": "per 100 contacts"},
    "team_score": {"zh": "团队合规分", "en": "Team compliance score"},
    "vs_previous": {"zh": "较上周", "en": "vs previous week"},
    "no_previous": {"zh": "上周无数据", "en": "no data for the previous week"},
    "by_category_severity": {
        "zh": "按类别与严重程度（每百次联系）",
        "en": "Findings per 100 contacts by category and severity",
    },
    "category": {"zh": "类别", "en": "Category"},
    "severity": {"zh": "严重程度", "en": "Severity"},
    "total": {"zh": "合计", "en": "Total"},
    "ranking": {"zh": "催收员排名（分数由低到高）", "en": "Collectors, lowest score first"},
    "rank": {"zh": "名次", "en": "#"},
    "collector": {"zh": "催收员", "en": "Collector"},
    "team": {"zh": "团队", "en": "Team"},
    "contacts": {"zh": "联系", "en": "Contacts"},
    "contacts_lc": {"zh": "次联系", "en": "contacts"},
    "findings": {"zh": "违规", "en": "Findings"},
    "critical_high": {"zh": "严重/高", "en": "Critical/high"},
    "score": {"zh": "合规分", "en": "Score"},
    "trend": {"zh": "趋势", "en": "Trend"},
    "scorecard": {"zh": "记分卡", "en": "Scorecard"},
    "formula_title": {"zh": "合规分的计算方法", "en": "How the score is computed"},
    "formula": {
        "zh": "合规分 = 100 ×（1 − 扣分 ÷（10 × 本周联系次数））。每条计入的违规按严重程度扣分：严重 {critical}，"
        "高 {high}，中 {medium}，低 {low}；每次联系（通话或消息）最多扣 10 分，即一条严重违规或两条高危违规使该次联系"
        "完全不合规。合规分因此是本周合规联系所占的加权比例，0–100。审核中被驳回的违规和预览（preview）规则的违规不计入。",
        "en": "Score = 100 × (1 − points ÷ (10 × the week's contacts)). Each counted finding costs "
        "points by severity: critical {critical}, high {high}, medium {medium}, low {low}; one "
        "contact (call or message) loses at most 10, so one critical or two high findings make a "
        "contact wholly non-compliant. The score is the weighted share of compliant contacts, "
        "0–100. Findings dismissed in review and findings of preview rules do not count.",
    },
    "category_trend": {"zh": "近几周各类违规数量", "en": "Findings by category, recent weeks"},
    "contact_hours": {
        "zh": "联系时间分布（债务人当地时间，阴影为禁止时段）",
        "en": "Contact times by hour of the debtor's local day (forbidden hours shaded)",
    },
    "market_cn": {"zh": "中国：22:00–08:00 禁止", "en": "China: 22:00–08:00 forbidden"},
    "market_us": {
        "zh": "美国：8:00 前与 21:00 后禁止",
        "en": "United States: before 8:00 and after 21:00 forbidden",
    },
    "in_forbidden_hours": {"zh": "次在禁止时段内", "en": "in forbidden hours"},
    "serious": {"zh": "本周最严重的违规", "en": "The week's most serious findings"},
    "no_findings": {"zh": "本周没有计入的违规。", "en": "No counted findings this week."},
    "failures": {"zh": "本周处理失败的文件", "en": "Files that could not be processed"},
    "failures_note": {
        "zh": "处理过本周联系的运行中记录的失败，以及本周内记录的失败。",
        "en": "Failures recorded by the runs that processed this week's contacts, and failures "
        "recorded during the week.",
    },
    "no_failures": {"zh": "没有处理失败的文件。", "en": "No file failed."},
    "path": {"zh": "文件", "en": "File"},
    "stage": {"zh": "阶段", "en": "Stage"},
    "error": {"zh": "错误", "en": "Error"},
    "line": {"zh": "行", "en": "line"},
    "time": {"zh": "时间", "en": "Time"},
    "contact": {"zh": "联系", "en": "Contact"},
    "rule": {"zh": "规则", "en": "Rule"},
    "quote": {"zh": "原话", "en": "Words"},
    "evidence": {"zh": "依据", "en": "Evidence"},
    "generated_from": {"zh": "数据来源", "en": "Data"},
    "masked_note": {
        "zh": "身份证号、银行卡号、手机号和电子邮箱已遮蔽。",
        "en": "ID, card and phone numbers and e-mail addresses are masked.",
    },
    "unmasked_note": {
        "zh": "本报告未遮蔽个人信息，仅限授权人员阅读。",
        "en": "Personal data is NOT masked in this report; authorised readers only.",
    },
    "back_to_weekly": {"zh": "返回周报", "en": "Back to the weekly report"},
    "score_trend": {"zh": "近几周合规分", "en": "Score over recent weeks"},
    "findings_by_category": {"zh": "按类别统计", "en": "Findings by category"},
    "counted": {"zh": "计入", "en": "counted"},
    "col_counted": {"zh": "计入", "en": "Counted"},
    "col_dismissed": {"zh": "已驳回", "en": "Dismissed"},
    "rank_of": {
        "zh": "排名 {rank} / {of}（1 为最低分）",
        "en": "Rank {rank} of {of} (1 = lowest score)",
    },
    "dismissed": {"zh": "已驳回", "en": "dismissed"},
    "confirmed": {"zh": "已确认", "en": "confirmed"},
    "pending_review": {"zh": "待审核", "en": "not reviewed"},
    "preview_findings": {
        "zh": "预览规则的发现（不计入合规分）",
        "en": "Findings of preview rules (not counted in the score)",
    },
    "dismissed_by": {"zh": "审核驳回", "en": "Dismissed in review by"},
    "confirmed_by": {"zh": "审核确认", "en": "Confirmed in review by"},
    "reason": {"zh": "理由", "en": "reason"},
    "clause": {"zh": "依据条款", "en": "Clause"},
    "play_from": {"zh": "从该时刻播放", "en": "Plays from"},
    "whole_contact": {"zh": "针对整次联系", "en": "on the contact as a whole"},
    "no_audio": {"zh": "无录音", "en": "no recording"},
    "speaker_collector": {"zh": "催收员", "en": "Collector"},
    "speaker_customer": {"zh": "客户", "en": "Customer"},
    "speaker_unknown": {"zh": "未知", "en": "Unknown"},
    "weeks_shown": {"zh": "显示的周", "en": "Weeks shown"},
    "no_contacts": {"zh": "本周无联系。", "en": "No contacts this week."},
    "this_week": {"zh": "本周", "en": "This week"},
    "sev_critical": {"zh": "严重", "en": "critical"},
    "sev_high": {"zh": "高", "en": "high"},
    "sev_medium": {"zh": "中", "en": "medium"},
    "sev_low": {"zh": "低", "en": "low"},
    "cat_threat": {"zh": "威胁恐吓", "en": "Threat"},
    "cat_false_claim": {"zh": "虚假陈述", "en": "False claim"},
    "cat_insult": {"zh": "辱骂", "en": "Insult"},
    "cat_privacy": {"zh": "泄露隐私", "en": "Privacy"},
    "cat_pressure": {"zh": "施压借贷", "en": "Pressure"},
    "cat_contact_time": {"zh": "联系时间", "en": "Contact time"},
    "cat_contact_frequency": {"zh": "联系频次", "en": "Contact frequency"},
    "cat_procedure": {"zh": "流程缺失", "en": "Procedure"},
    "channel_call": {"zh": "通话", "en": "call"},
    "channel_sms": {"zh": "短信", "en": "SMS"},
    "channel_chat": {"zh": "聊天", "en": "chat"},
    "channel_app": {"zh": "应用消息", "en": "app message"},
    "channel_email": {"zh": "电子邮件", "en": "e-mail"},
}


def text(key: str, lang: str) -> str:
    return TEXT[key][lang]


def format_date(value: date | datetime, lang: str) -> str:
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{_MONTHS[value.month - 1]} {value.day}, {value.year}"


def format_short_date(value: date | datetime, lang: str) -> str:
    if lang == "zh":
        return f"{value.month}月{value.day}日"
    return f"{_MONTHS[value.month - 1]} {value.day}"


def format_datetime(value: datetime, lang: str) -> str:
    return f"{format_date(value, lang)} {value:%H:%M}"


def format_number(value: float | int | None, lang: str, digits: int = 0) -> str:
    """Grouped thousands in both languages (Chinese business writing groups by three too)."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def format_delta(value: float | None, lang: str, digits: int = 1) -> str:
    if value is None:
        return text("no_previous", lang)
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return f"{sign}{abs(value):,.{digits}f}"


def week_label(week: str, monday: date, lang: str) -> str:
    from datetime import timedelta

    year, number = week.split("-W")
    sunday = monday + timedelta(days=6)
    if lang == "zh":
        return f"{year}年第{int(number)}周（{format_date(monday, lang)}–{format_short_date(sunday, lang)}）"
    return f"Week {int(number)}, {year} ({format_short_date(monday, lang)} – {format_date(sunday, lang)})"
