"""mask_text: the one masking function of every output."""

from __future__ import annotations

import pytest

from auditor.textmask import mask_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("卡号6222 0212 3456 7894", "卡号6222 **** **** 7894"),
        ("卡号6222021234567894", "卡号6222********7894"),
        ("身份证110105199003071239", "身份证110105********1239"),
        ("身份证号11010519900307123X", "身份证号110105********123X"),
        ("手机13812345678", "手机138****5678"),
        ("SSN 123-45-6789 on file", "SSN ***-**-6789 on file"),
        ("mail zhang.san@example.com now", "mail z***@example.com now"),
        ("身份证幺幺零幺零五幺九九零零三零七幺二三九", "身份证幺幺零幺零五********幺二三九"),
        ("身份证１１０１０５１９９００３０７１２３９", "身份证１１０１０５********１２３９"),
    ],
)
def test_personal_numbers_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_number_split_by_zero_width_space_is_masked() -> None:
    masked = mask_text("卡号6222\u200b0212\u200b3456\u200b7894")
    assert "0212" not in masked and "3456" not in masked
    assert masked.endswith("7894")


@pytest.mark.parametrize(
    "text",
    [
        "您尾号1234的信用卡本期应还5000元",
        "2026-11-16 还款日",
        "最低还款额为 12,345 元",
        "",
        "Please pay $1,250.00 by Friday",
    ],
)
def test_amounts_dates_and_tails_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_mixed_digits_and_chinese_numerals_are_masked() -> None:
    masked = mask_text("他的手机是一三八1234五六七八")
    assert "1234" not in masked
    assert masked.endswith("五六七八")
