"""The catalogue of every sentence a person reads: message codes with Vietnamese and English text.

Why one catalogue: a page, a form error, an API error, an SMS and an email show only text from
here, chosen by code. A URL (``?msg=``, ``?err=``) may name a code, never supply words, so a
crafted link cannot put "transfer 500.000 ₫ to account ..." on our pages; and billing's own
messages, written for operators (they name accounts), never reach a customer: they are logged,
and the customer reads the catalogue's text for the error's code.

Parameters (``{amount}``, ``{plate}``) are filled by our code with values it formatted; the
pages escape them like any other value.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from typing import Literal

log = logging.getLogger(__name__)

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"

# The code shown when a rule refused something and no finer code says what: it never names an
# account, a person or an internal id.
REFUSED = "request_refused"

# code: (Vietnamese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    # -- generic
    REFUSED: (
        "Không thể thực hiện yêu cầu. Vui lòng kiểm tra lại hoặc liên hệ bộ phận hỗ trợ.",
        "The request could not be carried out. Please check it or contact support.",
    ),
    "forbidden": ("Bạn không có quyền xem trang này.", "You may not see this page."),
    "no_access_account": (
        "Bạn không có quyền với tài khoản này.",
        "You have no access to this account.",
    ),
    "not_found": ("Không tìm thấy.", "Not found."),
    "no_access": ("Bạn không có quyền với mục này.", "You have no access to this item."),
    "no_account_linked": (
        "Tài khoản đăng nhập này chưa gắn với tài khoản giao thông nào.",
        "No transport account is linked to this sign-in.",
    ),
    "saved": ("Đã lưu.", "Saved."),
    # -- the public invoice lookup
    "invoice_lookup_missing": (
        "Không có hóa đơn nào với mã tra cứu này. Hãy kiểm tra lại mã in trên hóa đơn.",
        "No invoice has this lookup code. Check the code printed on the invoice.",
    ),
    "too_many_lookups": (
        "Bạn đã tra cứu quá nhiều lần. Vui lòng thử lại sau ít phút.",
        "Too many lookups. Please try again in a few minutes.",
    ),
    "try_again": ("Có lỗi tạm thời. Vui lòng thử lại.", "A temporary error. Please try again."),
    # -- form fields
    "form_has_errors": (
        "Vui lòng sửa các mục được đánh dấu bên dưới.",
        "Please correct the marked fields below.",
    ),
    "required": ("Vui lòng nhập thông tin này.", "Please fill this in."),
    "too_many_sign_ins": (
        "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.",
        "Too many failed sign-ins. Please try again in {seconds} seconds.",
    ),
    "bad_login": (
        "Sai số điện thoại / tên đăng nhập hoặc mật khẩu.",
        "Wrong phone number / username or password.",
    ),
    "phone_invalid": (
        "Số điện thoại không hợp lệ. Ví dụ: 0912 345 678.",
        "Not a valid phone number. Example: 0912 345 678.",
    ),
    "phone_taken": (
        "Số điện thoại này đã có tài khoản. Hãy đăng nhập hoặc đặt lại mật khẩu.",
        "This phone number already has an account. Sign in or reset the password.",
    ),
    "email_invalid": ("Địa chỉ email không hợp lệ.", "Not a valid email address."),
    "name_required": ("Vui lòng nhập họ tên.", "Please enter your name."),
    "password_too_short": (
        "Mật khẩu cần ít nhất {min} ký tự.",
        "The password needs at least {min} characters.",
    ),
    "passwords_differ": ("Hai mật khẩu không khớp.", "The two passwords differ."),
    "code_wrong": ("Mã xác minh không đúng.", "Wrong verification code."),
    "code_expired": (
        "Mã xác minh đã hết hạn hoặc đã nhập sai quá nhiều lần. Hãy yêu cầu mã mới.",
        "The code has expired or was entered wrongly too often. Ask for a new one.",
    ),
    "code_wait": (
        "Vui lòng chờ {seconds} giây trước khi yêu cầu mã mới.",
        "Please wait {seconds} seconds before asking for a new code.",
    ),
    "plate_invalid": (
        "Biển số không hợp lệ. Ví dụ: 30A-123.45 hoặc 29-B1 678.90.",
        "Not a valid Vietnamese plate. Example: 30A-123.45 or 29-B1 678.90.",
    ),
    "plate_taken": (
        "Biển số này đã được đăng ký ở một tài khoản khác. Nếu đây là xe của bạn, "
        "hãy liên hệ bộ phận hỗ trợ kèm giấy đăng ký xe.",
        "This plate is registered to another account. If the vehicle is yours, contact "
        "support with its registration papers.",
    ),
    "plate_already_yours": (
        "Biển số này đã có trong tài khoản của bạn.",
        "This plate is already on your account.",
    ),
    "vehicle_class_invalid": ("Hãy chọn loại xe.", "Choose a vehicle class."),
    "vehicle_not_found": (
        "Không tìm thấy phương tiện này trong tài khoản của bạn.",
        "This vehicle is not on your account.",
    ),
    "account_closed": ("Tài khoản đã đóng.", "The account is closed."),
    "account_not_found": ("Không tìm thấy tài khoản.", "No such account."),
    "amount_range": (
        "Số tiền phải từ {min} đến {max}.",
        "The amount must be from {min} to {max}.",
    ),
    "amount_invalid": ("Số tiền không hợp lệ.", "Not a valid amount."),
    "auto_topup_incomplete": (
        "Cần ngưỡng và số tiền nạp (ít nhất {min}).",
        "Auto top-up needs a threshold and an amount of at least {min}.",
    ),
    "auto_topup_invalid": (
        "Ngưỡng không được âm và số tiền nạp phải lớn hơn 0.",
        "The threshold cannot be negative and the amount must be positive.",
    ),
    "tax_code_invalid": (
        "Mã số thuế gồm 10 chữ số, hoặc 10 chữ số, gạch ngang và 3 chữ số của đơn vị phụ thuộc "
        "(ví dụ 0101234567 hoặc 0101234567-001).",
        "A tax code (MST) is 10 digits, or 10 digits, a dash and a 3-digit branch number "
        "(e.g. 0101234567 or 0101234567-001).",
    ),
    "company_name_required": ("Vui lòng nhập tên công ty.", "Please enter the company's name."),
    "company_address_required": (
        "Vui lòng nhập địa chỉ công ty như trên đăng ký thuế.",
        "Please enter the company's address as registered for tax.",
    ),
    "monthly_needs_company": (
        "Hóa đơn gộp theo tháng chỉ xuất cho công ty: hãy nhập thông tin công ty.",
        "The monthly invoice is made out to a company: enter the company's details.",
    ),
    # -- review actions (operators)
    "already_charged": ("Lượt này đã được thu phí.", "This passage was charged already."),
    "charge_needs_vehicle": (
        "Hãy sửa biển số thành xe đã đăng ký trước khi thu phí.",
        "Correct the plate to a registered vehicle before charging.",
    ),
    "charge_needs_amount": (
        "Không có phí để thu: hãy nhập số tiền.",
        "Nothing to charge: enter an amount.",
    ),
    "only_exits_charged": ("Chỉ thu phí lượt ra.", "Only exits are charged."),
    "waive_needs_reason": ("Hãy nêu lý do miễn phí.", "Say why the passage is waived."),
    "refund_instead": (
        "Lượt này đã thu phí: hãy hoàn tiền thay vì miễn phí.",
        "This passage was charged: refund it instead.",
    ),
    # -- top-ups through a payment provider
    "topup_unavailable": (
        "Chưa có cổng thanh toán nào: hiện chưa thể nạp tiền.",
        "No payment provider is set up: top-up is not available yet.",
    ),
    "autotopup_unavailable": (
        "Chưa có ví hoặc ngân hàng liên kết nào hỗ trợ tự động nạp tiền.",
        "No linked wallet or bank supports auto top-up here.",
    ),
    "provider_unknown": ("Hãy chọn cổng thanh toán.", "Choose a payment provider."),
    "topup_pending": (
        "Đang chờ {provider} xác nhận thanh toán…",
        "Waiting for {provider} to confirm the payment…",
    ),
    "topup_failed": (
        "{provider} báo thanh toán không thành công hoặc đã bị hủy. Tài khoản không bị trừ tiền.",
        "{provider} reports the payment failed or was cancelled. Nothing was taken.",
    ),
    "topup_credited": ("Đã cộng {amount} vào tài khoản.", "{amount} credited to your account."),
    "topup_expired": (
        "Yêu cầu nạp tiền đã hết hạn. Nếu bạn đã thanh toán, tiền sẽ được cộng khi cổng thanh "
        "toán xác nhận.",
        "This top-up request has expired. If you paid, the money is credited when the provider "
        "confirms.",
    ),
    # -- review actions, stays
    "stay_ended_elsewhere": (
        "Lượt gửi xe của lượt này đã kết thúc ở một lượt ra khác: hãy xử lý lượt đó.",
        "This passage's stay ended at another exit: act on that one.",
    ),
    "open_stay_exists": (
        "Xe này đang có một lượt gửi chưa kết thúc tại bãi: hãy xử lý lượt đó trước.",
        "This car has an open stay at the lot: settle that one first.",
    ),
    "not_a_match": (
        "Biển số này không nằm trong các kết quả so khớp: hãy sửa biển số.",
        "This plate is not one of the matches: correct the plate instead.",
    ),
    "not_pending": (
        "Lượt này không còn chờ xử lý.",
        "This passage is no longer waiting for review.",
    ),
    "refund_before_correcting": (
        "Lượt này đã thu phí: hãy hoàn tiền trước khi sửa biển số.",
        "This passage was charged: refund it before correcting the plate.",
    ),
    # -- what happened (flash after a form)
    "payment_done": ("Nạp tiền thành công.", "Top-up succeeded."),
    "vehicle_added": ("Đã thêm phương tiện.", "Vehicle added."),
    "vehicle_removed": ("Đã xóa phương tiện.", "Vehicle removed."),
    "auto_topup_saved": ("Đã lưu cài đặt tự động nạp tiền.", "Auto top-up saved."),
    "contacts_saved": ("Đã lưu thông tin liên hệ.", "Contact details saved."),
    "invoicing_saved": (
        "Đã lưu thông tin xuất hóa đơn. Các hóa đơn từ nay sẽ theo thông tin này.",
        "Invoice details saved. Invoices from now on follow them.",
    ),
    "monthly_waiting": (
        "{count} lượt gửi xe ({amount}) sẽ được gộp vào hóa đơn tháng {month}, xuất sau khi hết "
        "tháng.",
        "{count} trips ({amount}) go on the invoice for {month}, issued after the month ends.",
    ),
    "code_sent": (
        "Chúng tôi đã gửi mã xác minh gồm 6 chữ số tới {phone}.",
        "We sent a 6-digit verification code to {phone}.",
    ),
    "reset_code_sent": (
        "Nếu số điện thoại này đã đăng ký, bạn sẽ nhận được mã xác minh trong giây lát.",
        "If this phone number is registered, a verification code is on its way.",
    ),
    "password_changed": (
        "Đã đổi mật khẩu. Hãy đăng nhập bằng mật khẩu mới.",
        "Password changed. Sign in with the new one.",
    ),
    "signed_up": (
        "Chào mừng! Tài khoản của bạn đã sẵn sàng. Hãy nạp tiền để qua cổng không phải dừng.",
        "Welcome! Your account is ready. Top up to pass the gates without stopping.",
    ),
    "low_balance": (
        "Số dư thấp ({balance}, dưới mức {level}): hãy nạp thêm để qua cổng không phải dừng.",
        "Low balance ({balance}, below {level}): top up to keep passing without stopping.",
    ),
    # -- notices (SMS, email, the portal's inbox): a title and a text each
    "notice_low_balance_title": ("Số dư thấp", "Low balance"),
    "notice_low_balance": (
        "Số dư tài khoản giao thông của bạn còn {balance}, dưới mức {level}. "
        "Hãy nạp thêm để qua cổng không phải dừng.",
        "Your transport account balance is {balance}, below {level}. "
        "Top up to keep passing the gates without stopping.",
    ),
    "notice_trip_receipt_title": ("Biên nhận phí gửi xe", "Parking receipt"),
    "notice_trip_receipt": (
        "Đã thu {fare} phí gửi xe {plate} tại {lot}, ra lúc {exit_at}. Số dư: {balance}.",
        "Charged {fare} for parking {plate} at {lot}, left at {exit_at}. Balance: {balance}.",
    ),
    "notice_topup_receipt_title": ("Nạp tiền thành công", "Top-up received"),
    "notice_topup_receipt": (
        "Đã nạp {amount} vào tài khoản giao thông qua {provider} lúc {at}.",
        "{amount} was added to your transport account through {provider} at {at}.",
    ),
    "notice_credit_receipt_title": ("Tài khoản được cộng tiền", "Balance credited"),
    "notice_credit_receipt": (
        "Bãi đỗ xe đã cộng {amount} vào tài khoản giao thông của bạn lúc {at}.",
        "The car park credited {amount} to your transport account at {at}.",
    ),
    "notice_invoice_issued_title": (
        "Hóa đơn điện tử {invoice}",
        "E-invoice {invoice}",
    ),
    "notice_invoice_issued": (
        "{seller} gửi {buyer} (MST {tax_code}) hóa đơn điện tử số {number}, ký hiệu {series}, "
        "ngày {date}, tổng tiền thanh toán {total}. Hóa đơn XML và bản thể hiện kèm theo; tra "
        "cứu tại {url} với mã tra cứu {code}.",
        "{seller} sends {buyer} (tax code {tax_code}) e-invoice no. {number}, series {series}, "
        "dated {date}, total {total}. The XML invoice and its readable copy are attached; look "
        "it up at {url} with the lookup code {code}.",
    ),
    "notice_signup_code_title": ("Mã xác minh đăng ký", "Sign-up code"),
    "notice_signup_code": (
        "Mã xác minh đăng ký bãi đỗ xe không tiền mặt: {code}. Hiệu lực {minutes} phút. "
        "Không chia sẻ mã này với ai.",
        "Your cashless parking sign-up code: {code}. Valid for {minutes} minutes. Never share it.",
    ),
    "notice_reset_code_title": ("Mã đặt lại mật khẩu", "Password reset code"),
    "notice_reset_code": (
        "Mã đặt lại mật khẩu bãi đỗ xe không tiền mặt: {code}. Hiệu lực {minutes} phút. "
        "Nếu bạn không yêu cầu, hãy bỏ qua tin này.",
        "Your cashless parking password reset code: {code}. Valid for {minutes} minutes. "
        "If you did not ask for it, ignore this message.",
    ),
}

# Codes a link may name in ``?msg=`` / ``?err=``: outcomes of our own forms, nothing alarming.
URL_CODES = frozenset(
    {
        REFUSED,
        "saved",
        "try_again",
        "payment_done",
        "vehicle_added",
        "vehicle_removed",
        "auto_topup_saved",
        "contacts_saved",
        "invoicing_saved",
        "reset_code_sent",
        "password_changed",
        "signed_up",
        "vehicle_not_found",
        "already_charged",
        "charge_needs_vehicle",
        "charge_needs_amount",
        "only_exits_charged",
        "waive_needs_reason",
        "refund_instead",
        "not_a_match",
        "not_pending",
        "amount_invalid",
        "plate_invalid",
        "plate_taken",
        "code_expired",
    }
)


def normalize_lang(value: str | None) -> Lang:
    return "en" if value == "en" else DEFAULT_LANG


class _Blank(dict[str, object]):
    """Missing parameters render as nothing rather than failing a page."""

    def __missing__(self, key: str) -> str:
        log.warning("message parameter {%s} missing", key)
        return ""


def text(code: str, lang: str | None = None, /, **params: object) -> str:
    """The catalogue's sentence for ``code`` in ``lang``; an unknown code gives ``REFUSED``'s."""
    pair = MESSAGES.get(code)
    if pair is None:
        log.warning("message code %r is not in the catalogue", code)
        pair = MESSAGES[REFUSED]
    template = pair[0 if normalize_lang(lang) == "vi" else 1]
    return string.Formatter().vformat(template, (), _Blank(params))


def known(code: str | None) -> bool:
    return code is not None and code in MESSAGES


def from_url(code: str | None) -> str | None:
    """A code a link asked for, when links may ask for it; anything else is dropped."""
    return code if code in URL_CODES else None


def code_of(exc: BaseException, default: str = REFUSED) -> str:
    """The catalogue code an exception carries (``exc.code``), when the catalogue knows it."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code in MESSAGES else default


def placeholders(code: str) -> Mapping[str, set[str]]:
    """The parameter names each language's text of ``code`` uses (the tests compare them)."""
    out: dict[str, set[str]] = {}
    for lang, template in zip(LANGS, MESSAGES[code], strict=True):
        out[lang] = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return out
