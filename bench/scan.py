"""Scan throughput of the full CN pack against a naive baseline, measured in the same run.

    PYTHONPATH=. python bench/scan.py [--mb 1.0] [--pack cn]

The corpus is synthetic collector and customer speech: every example sentence of the pack's
rules (match and no_match) plus ordinary collection small talk, shuffled with a fixed seed into
calls of 20 segments until the target size (UTF-8 MB) is reached.

- engine: `RulePack.scan` per call: normalisation, one Aho-Corasick pass (+ one over pinyin),
  the compiled regexes once, recognizers, then every rule looks its hits up.
- naive: the same normalisation and pinyin once per segment, then every rule separately runs
  each of its phrases (str.find loop) and each of its regexes over the text.

- without models: the engine on a copy of the pack without its learned-classifier rules
  (`model:` conditions), to show what scoring every sentence with the classifier costs.

One process, so one core. Prints MB/s of each and the ratios.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import regex

from auditor.engine import learned, load_pack
from auditor.engine.loader import load_pack_folder
from auditor.engine.pack import RulePack
from auditor.engine.schema import Cond
from auditor.models import Channel, Contact, Segment, Speaker
from auditor.textnorm import normalize, normalize_phrase, pinyin_text, pinyin_variants

SMALL_TALK = [
    "您好，我是招商银行信用卡中心的工作人员，工号3021。",
    "请问是张三先生本人吗？",
    "您尾号1234的信用卡本期账单已经逾期十五天了。",
    "本期最低还款额是八百六十元，请您今天之内安排还款。",
    "如果有困难，我们可以帮您申请分期还款。",
    "好的，那我们约定本周五之前还款，可以吗？",
    "嗯，我这个月工资还没发，能不能晚几天。",
    "您可以通过手机银行或者柜台还款。",
    "逾期信息会如实报送人民银行征信系统。",
    "感谢您的配合，祝您生活愉快，再见。",
]


def _examples(pack) -> list[str]:  # type: ignore[no-untyped-def]
    texts = []
    for r in pack.rules:
        for ex in r.rule.examples.match + r.rule.examples.no_match:
            text = ex if isinstance(ex, str) else ex.text
            if text:
                texts.append(text)
    return texts


def build_corpus(pack, megabytes: float, seed: int = 47) -> list[list[Segment]]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    pool = SMALL_TALK * 6 + _examples(pack)
    calls, size = [], 0
    target = int(megabytes * 1_000_000)
    while size < target:
        segments, clock = [], 0.0
        for i in range(20):
            text = rng.choice(pool)
            speaker = Speaker.COLLECTOR if i % 2 == 0 else Speaker.CUSTOMER
            segments.append(Segment(speaker, clock, clock + 3.0, text))
            clock += 3.5
            size += len(text.encode("utf-8"))
        calls.append(segments)
    return calls


def _leaves(cond: Cond | None) -> tuple[list[tuple[str, bool]], list[str]]:
    phrases: list[tuple[str, bool]] = []
    regexes: list[str] = []
    if cond is None:
        return phrases, regexes
    for p in cond.phrase or []:
        phrases.append((normalize_phrase(p), cond.pinyin))
    if cond.near is not None:
        phrases += [(normalize_phrase(p), cond.pinyin) for p in cond.near.a + cond.near.b]
    regexes += cond.regex or []
    for sub in (cond.any or []) + (cond.all or []):
        p, r = _leaves(sub)
        phrases += p
        regexes += r
    return phrases, regexes


def naive_scan(rules: list[tuple[list[tuple[str, list[str]]], list]], calls) -> int:  # type: ignore[no-untyped-def]
    hits = 0
    for segments in calls:
        for seg in segments:
            norm = normalize(seg.text).text
            py = pinyin_text(norm).text
            for phrases, compiled in rules:
                for phrase, pinyin in phrases:
                    start = norm.find(phrase)
                    while start != -1:
                        hits += 1
                        start = norm.find(phrase, start + 1)
                    for variant in pinyin:
                        if variant in py:
                            hits += 1
                for rx in compiled:
                    hits += sum(1 for _ in rx.finditer(norm, timeout=0.25))
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="corpus size in MB of UTF-8 text")
    parser.add_argument("--pack", default="cn")
    args = parser.parse_args()

    pack = load_pack(args.pack)
    calls = build_corpus(pack, args.mb)
    size_mb = sum(len(s.text.encode("utf-8")) for c in calls for s in c) / 1_000_000
    contact = Contact(
        external_id="bench",
        channel=Channel.CALL,
        collector_id="w",
        account_id="A",
        started_at=datetime(2026, 11, 16, 2, tzinfo=UTC),
        timezone="Asia/Shanghai",
        language=pack.packs[0].settings.language,
        id=1,
    )

    t0 = time.perf_counter()
    findings = 0
    for segments in calls:
        _forget_sentences()
        findings += len(pack.scan(contact, segments))
    engine_s = time.perf_counter() - t0

    rules = []
    for r in pack.rules:
        conds = [r.rule.match] if r.rule.match is not None else []
        if r.rule.call is not None:
            a, s = r.rule.call.absence, r.rule.call.sequence
            conds += [a.cond] if a else []
            conds += [s.event, s.required] if s else []
        phrases, patterns = [], []
        for c in conds:
            p, rx = _leaves(c)
            phrases += p
            patterns += rx
        # compiled once, as the engine is: pinyin readings and regexes are set up before timing
        with_pinyin = [(p, pinyin_variants(p) if py else []) for p, py in phrases]
        rules.append(
            (with_pinyin, [regex.compile(p, regex.IGNORECASE | regex.V1) for p in patterns])
        )
    t0 = time.perf_counter()
    naive_hits = naive_scan(rules, calls)
    naive_s = time.perf_counter() - t0

    # The classifier's cost: both scans after a warm-up pass, so that caches the first scan
    # fills (pinyin readings, normalisation) favour neither.
    plain_s = warm_s = None
    with tempfile.TemporaryDirectory() as tmp:
        plain = _without_models(pack, Path(tmp))
        if plain is not None:
            t0 = time.perf_counter()
            for segments in calls:
                plain.scan(contact, segments)
            plain_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for segments in calls:
                _forget_sentences()
                pack.scan(contact, segments)
            warm_s = time.perf_counter() - t0

    print(
        f"corpus: {size_mb:.2f} MB in {len(calls)} calls, pack {pack.name} "
        f"({len(pack.rules)} rules, version {pack.version})"
    )
    print(f"engine: {size_mb / engine_s:8.3f} MB/s  ({engine_s:.2f} s, {findings} findings)")
    print(f"naive:  {size_mb / naive_s:8.3f} MB/s  ({naive_s:.2f} s, {naive_hits} raw hits)")
    print(f"ratio engine/naive: {naive_s / engine_s:.2f}x")
    if plain_s is not None and warm_s is not None:
        print(f"warm, with model rules:    {size_mb / warm_s:8.3f} MB/s ({warm_s:.2f} s)")
        print(f"warm, without model rules: {size_mb / plain_s:8.3f} MB/s ({plain_s:.2f} s)")
        print(f"cost of the learned classifier: {warm_s / plain_s:.2f}x the time without it")


def _forget_sentences() -> None:
    """The corpus repeats its pool of sentences; real calls do not. The classifier's per-process
    cache of sentence features is emptied before each call, so it helps only within a call (where
    every model of a language shares a sentence's features), as it would on real transcripts."""
    learned._counts.cache_clear()


def _without_models(pack, tmp: Path):  # type: ignore[no-untyped-def]
    """The pack again, from a copy of its folders that leaves out rules with a model condition."""
    has_model = [r for r in pack.rules if r.rule.match is not None and "model" in str(r.rule.match)]
    if not has_model:
        return None
    skip = {r.path.resolve() for r in has_model}
    folders = []
    for loaded in pack.packs:
        dest = tmp / loaded.path.name
        shutil.copytree(loaded.path, dest, ignore=shutil.ignore_patterns("models"))
        for rule in loaded.rules:
            if rule.path.resolve() in skip:
                (dest / rule.path.relative_to(loaded.path)).unlink()
        folders.append(dest)
    return RulePack([load_pack_folder(f) for f in folders])


if __name__ == "__main__":
    main()
