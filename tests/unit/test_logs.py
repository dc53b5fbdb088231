"""Personal data never reaches a log line: ID numbers, mobiles and landlines are masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from services.common.logs import MaskingFilter, mask_id_number, mask_name, mask_phone, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("来电 13812345678 投诉", "来电 138****5678 投诉"),
        ("13812345678", "138****5678"),
        ("+8613812345678", "138****5678"),
        ("+86 13812345678", "138****5678"),
        ("身份证 11010519491231002X", "身份证 110105********002X"),
        ("身份证 11010519491231002x", "身份证 110105********002x"),
        ("座机 022-23456789", "座机 022-****6789"),
        ("回电 138 1234 5678", "回电 138****5678"),
        ("+86 138-1234-5678", "138****5678"),
    ],
)
def test_contact_numbers_and_id_numbers_are_masked_in_free_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "XB20261121000042",
        "案件 XB20261121000042 已转办",
        "3200.00",
        "争议金额 3200.00 元",
        "2026-11-21T08:00:00+08:00",
        "amount_in_dispute_fen=320000",
    ],
)
def test_case_numbers_amounts_and_times_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_a_line_with_a_case_number_and_a_phone_masks_only_the_phone() -> None:
    line = "case XB20261121000042 complainant 13812345678 amount 3200.00"
    assert mask_text(line) == "case XB20261121000042 complainant 138****5678 amount 3200.00"


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳小明", "欧***"), ("李", "李*"), ("Alice", "A****"), ("  ", "")],
)
def test_names_keep_only_their_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "138****5678"),
        ("022-23456789", "022****6789"),
        ("12345", "*****"),
    ],
)
def test_phones_keep_their_first_three_and_last_four_digits(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_an_id_number_keeps_its_region_and_its_last_four() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("1234") == "****"


@pytest.fixture
def masked_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tests.unit.test_logs.masked")
    log.addFilter(MaskingFilter())
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log, out
    log.removeHandler(handler)
    log.filters.clear()


def test_a_phone_passed_as_an_argument_never_reaches_the_log(
    masked_log: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = masked_log
    log.info("calling back %s for case %s", "13812345678", "XB20261121000042")
    written = out.getvalue()
    assert "13812345678" not in written
    assert "calling back 138****5678 for case XB20261121000042" in written


def test_a_phone_in_an_exception_message_never_reaches_the_log(
    masked_log: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = masked_log
    phone = "1381234" + "5678"  # built so the traceback's source line does not hold it either
    try:
        raise ValueError(f"no such complainant {phone}, id 11010519491231002X")
    except ValueError:
        log.exception("lookup failed for %s", phone)
    written = out.getvalue()
    assert "Traceback" in written
    assert "ValueError: no such complainant 138****5678" in written
    assert phone not in written
    assert "11010519491231002X" not in written


def test_a_bad_format_string_still_writes_the_line(
    masked_log: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = masked_log
    log.warning("phone %s and %s", "13812345678")
    written = out.getvalue()
    assert "phone %s and %s" in written
    assert "13812345678" not in written
