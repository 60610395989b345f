"""The mock tax authority's error codes: one documented table, shown on the tax-office page too.

Real providers complain about undocumented codes; every code the mock can answer is here.
``T`` codes come in a 999 (the message could not be read: nothing was recorded, do not resend
unchanged); ``E`` codes come per invoice in a 204 (the invoice was read and rejected).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    name: str
    level: str  # "technical" (999) | "invoice" (204)
    description: str


_TABLE: tuple[ErrorCode, ...] = (
    ErrorCode("T001", "MALFORMED_XML", "technical", "The message is not well-formed XML."),
    ErrorCode("T002", "TOO_LARGE", "technical", "The message is larger than the size limit."),
    ErrorCode(
        "T003",
        "DTD_FORBIDDEN",
        "technical",
        "A DOCTYPE or entity declaration was sent (entity expansion / external entities).",
    ),
    ErrorCode(
        "T004", "UNKNOWN_MESSAGE_TYPE", "technical", "MLTDiep is not a type the authority accepts."
    ),
    ErrorCode(
        "T005",
        "ENVELOPE_INVALID",
        "technical",
        "TDiep header or body is incomplete (TTChung fields, DLieu, SLuong, receiver).",
    ),
    ErrorCode("T006", "TOO_MANY_INVOICES", "technical", "More invoices than allowed per message."),
    ErrorCode("E101", "XSD_INVALID", "invoice", "The invoice does not conform to the HDon XSD."),
    ErrorCode(
        "E102",
        "SIGNATURE_INVALID",
        "invoice",
        "The seller's signature is missing, or does not verify (content altered).",
    ),
    ErrorCode(
        "E103",
        "CERT_MST_MISMATCH",
        "invoice",
        "The tax code in the signing certificate differs from the seller's MST.",
    ),
    ErrorCode("E104", "SELLER_NOT_REGISTERED", "invoice", "The seller's MST is not registered."),
    ErrorCode(
        "E105",
        "SERIES_NOT_ALLOWED",
        "invoice",
        "The template/series is not registered for this seller, or does not fit the mode.",
    ),
    ErrorCode(
        "E106",
        "DUPLICATE_NUMBER",
        "invoice",
        "An invoice with this seller/template/series/number (or MCCQT) was already accepted.",
    ),
    ErrorCode(
        "E107",
        "NUMBER_NOT_ASCENDING",
        "invoice",
        "The number does not ascend with the issue date within the seller/template/series.",
    ),
    ErrorCode(
        "E108",
        "LINE_AMOUNT_WRONG",
        "invoice",
        "A line's ThTien differs from quantity x unit price - discount.",
    ),
    ErrorCode(
        "E109",
        "VAT_WRONG",
        "invoice",
        "A per-rate total (LTSuat) differs from its lines, or its VAT from amount x rate.",
    ),
    ErrorCode(
        "E110",
        "TOTALS_WRONG",
        "invoice",
        "TgTCThue, TgTThue or TgTTTBSo do not add up.",
    ),
    ErrorCode(
        "E111",
        "AMOUNT_IN_WORDS_WRONG",
        "invoice",
        "TgTTTBChu does not spell TgTTTBSo in Vietnamese.",
    ),
    ErrorCode("E112", "DATE_IN_FUTURE", "invoice", "NLap (or the signing time) is in the future."),
    ErrorCode("E113", "DATE_TOO_OLD", "invoice", "NLap is older than the allowed sending delay."),
    ErrorCode(
        "E114",
        "DATE_SERIES_YEAR_MISMATCH",
        "invoice",
        "The year in KHHDon (2nd-3rd characters) differs from the year of NLap.",
    ),
    ErrorCode(
        "E115",
        "MCCQT_INVALID",
        "invoice",
        "Cash-register MCCQT missing or malformed, or its template/year/seller code is wrong; "
        "or an MCCQT sent where the authority assigns it.",
    ),
    ErrorCode(
        "E116",
        "MESSAGE_MST_MISMATCH",
        "invoice",
        "The MST in the message header differs from the invoice's seller.",
    ),
    ErrorCode(
        "E117",
        "CERT_UNTRUSTED",
        "invoice",
        "The signing certificate does not chain to a CA the authority trusts "
        "(checked only when TAXAUTH_TRUSTED_CA_PEM is set).",
    ),
)

# The same meanings in Vietnamese, for the tax office's pages.
VIETNAMESE: dict[str, str] = {
    "T001": "Thông điệp không phải XML hợp lệ.",
    "T002": "Thông điệp vượt quá dung lượng cho phép.",
    "T003": "Thông điệp có khai báo DOCTYPE hoặc thực thể (bị cấm vì lý do an toàn).",
    "T004": "Loại thông điệp (MLTDiep) không được tiếp nhận.",
    "T005": "Phần đầu hoặc phần dữ liệu của thông điệp TDiep không đầy đủ.",
    "T006": "Số hóa đơn trong một thông điệp vượt quá giới hạn.",
    "E101": "Hóa đơn không đúng định dạng XSD của HDon.",
    "E102": "Thiếu chữ ký số của người bán, hoặc chữ ký không hợp lệ (nội dung đã bị sửa).",
    "E103": "Mã số thuế trong chứng thư số khác mã số thuế người bán.",
    "E104": "Mã số thuế người bán chưa đăng ký sử dụng hóa đơn điện tử.",
    "E105": "Ký hiệu mẫu số / ký hiệu hóa đơn chưa đăng ký, hoặc không phù hợp hình thức.",
    "E106": "Số hóa đơn (hoặc mã của cơ quan thuế) đã được tiếp nhận trước đó.",
    "E107": "Số hóa đơn không tăng dần theo ngày lập trong cùng ký hiệu.",
    "E108": "Thành tiền của một dòng khác số lượng x đơn giá - chiết khấu.",
    "E109": "Tổng theo thuế suất khác tổng các dòng, hoặc tiền thuế khác thành tiền x thuế suất.",
    "E110": "Tổng tiền chưa thuế, tiền thuế hoặc tổng thanh toán không khớp.",
    "E111": "Số tiền viết bằng chữ không đúng với số tiền thanh toán.",
    "E112": "Ngày lập (hoặc thời điểm ký) ở tương lai.",
    "E113": "Ngày lập quá thời hạn gửi cho phép.",
    "E114": "Năm trong ký hiệu hóa đơn khác năm của ngày lập.",
    "E115": "Mã của cơ quan thuế (máy tính tiền) thiếu hoặc sai cấu trúc, hoặc gửi kèm mã khi "
    "cơ quan thuế cấp mã.",
    "E116": "Mã số thuế ở phần đầu thông điệp khác mã số thuế người bán.",
    "E117": "Chứng thư số không thuộc tổ chức chứng thực được cơ quan thuế tin cậy.",
}

BY_CODE: dict[str, ErrorCode] = {e.code: e for e in _TABLE}
BY_NAME: dict[str, ErrorCode] = {e.name: e for e in _TABLE}

# TDiepError.kind -> technical code
TECHNICAL_BY_KIND: dict[str, str] = {
    "malformed": "T001",
    "too_large": "T002",
    "dtd_forbidden": "T003",
    "unknown_type": "T004",
    "envelope": "T005",
    "too_many": "T006",
}


def all_codes() -> tuple[ErrorCode, ...]:
    return _TABLE


def code(name: str) -> str:
    """The code for a name, e.g. ``code("XSD_INVALID") == "E101"`` (KeyError if undocumented)."""
    return BY_NAME[name].code


def markdown_table() -> str:
    lines = ["| Code | Name | Level | Meaning |", "|---|---|---|---|"]
    lines += [f"| {e.code} | {e.name} | {e.level} | {e.description} |" for e in _TABLE]
    return "\n".join(lines)
