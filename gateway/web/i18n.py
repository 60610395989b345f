"""Vietnamese and English labels. The language comes from the ``lang`` cookie (default vi)."""

from __future__ import annotations

from collections.abc import Callable

from gateway.web.console_labels import CONSOLE_LABELS

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"

# key: (Vietnamese, English)
LABELS: dict[str, tuple[str, str]] = {
    "app_name": ("Bãi đỗ xe không tiền mặt", "Cashless parking"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "bad_login": ("Sai tên đăng nhập hoặc mật khẩu", "Wrong username or password"),
    "dashboard": ("Bảng điều khiển", "Dashboard"),
    "revenue": ("Doanh thu", "Revenue"),
    "revenue_by_day": ("Doanh thu theo ngày", "Revenue by day"),
    "revenue_by_lot": ("Doanh thu theo bãi", "Revenue by lot"),
    "revenue_by_class": ("Doanh thu theo loại xe", "Revenue by vehicle class"),
    "occupancy": ("Công suất", "Occupancy"),
    "occupancy_now": ("Số xe hiện tại", "Occupancy now"),
    "occupancy_day": ("Số xe trong ngày", "Occupancy over the day"),
    "live_feed": ("Lượt xe trực tiếp", "Live passages"),
    "gates": ("Cổng", "Gates"),
    "gate_health": ("Tình trạng cổng", "Gate health"),
    "unanswered": ("Chờ quyết định", "Awaiting decision"),
    "online": ("trực tuyến", "online"),
    "offline": ("mất kết nối", "offline"),
    "review_queue": ("Hàng chờ xử lý", "Review queue"),
    "invoices": ("Hóa đơn", "Invoices"),
    "tariffs": ("Biểu giá", "Tariffs"),
    "export_csv": ("Xuất CSV", "Export CSV"),
    "reconciliation": ("Đối soát", "Reconciliation"),
    "time": ("Thời gian", "Time"),
    "lot": ("Bãi", "Lot"),
    "gate": ("Cổng", "Gate"),
    "direction": ("Chiều", "Direction"),
    "entry": ("Vào", "Entry"),
    "exit": ("Ra", "Exit"),
    "plate": ("Biển số", "Plate"),
    "image": ("Ảnh", "Image"),
    "confidence": ("Độ tin cậy", "Confidence"),
    "decision": ("Quyết định", "Decision"),
    "fare": ("Phí", "Fare"),
    "status": ("Trạng thái", "Status"),
    "reason": ("Lý do", "Reason"),
    "actions": ("Thao tác", "Actions"),
    "correct_plate": ("Sửa biển số", "Correct plate"),
    "charge": ("Thu phí", "Charge"),
    "waive": ("Miễn phí", "Waive"),
    "audit_trail": ("Nhật ký thao tác", "Audit trail"),
    "frames": ("Khung hình", "Frames"),
    "nothing_to_review": ("Không có lượt nào cần xử lý", "Nothing to review"),
    "balance": ("Số dư", "Balance"),
    "low_balance": (
        "Số dư thấp: hãy nạp thêm tiền để qua cổng không phải dừng",
        "Low balance: top up to keep passing without stopping",
    ),
    "vehicles": ("Phương tiện", "Vehicles"),
    "add_vehicle": ("Thêm phương tiện", "Add vehicle"),
    "remove": ("Xóa", "Remove"),
    "vehicle_class": ("Loại xe", "Vehicle class"),
    "top_up": ("Nạp tiền", "Top up"),
    "amount": ("Số tiền", "Amount"),
    "auto_top_up": ("Tự động nạp tiền", "Auto top-up"),
    "threshold": ("Ngưỡng", "Threshold"),
    "save": ("Lưu", "Save"),
    "enabled": ("Bật", "Enabled"),
    "trips": ("Chuyến đi", "Trips"),
    "entry_at": ("Giờ vào", "Entry"),
    "exit_at": ("Giờ ra", "Exit"),
    "number": ("Số", "Number"),
    "date": ("Ngày", "Date"),
    "total": ("Tổng tiền", "Total"),
    "tax_status": ("Trạng thái CQT", "Tax authority status"),
    "download": ("Tải về", "Download"),
    "qr_code": ("Mã QR tra cứu", "Lookup QR code"),
    "valid_from": ("Hiệu lực từ", "Valid from"),
    "valid_to": ("Hiệu lực đến", "Valid to"),
    "my_account": ("Tài khoản của tôi", "My account"),
    "payment_done": ("Nạp tiền thành công", "Top-up succeeded"),
    "none": ("Không có dữ liệu", "No data"),
    "open": ("Mở", "Open"),
    "closed": ("Đóng", "Closed"),
    "car": ("Ô tô", "Car"),
    "motorbike": ("Xe máy", "Motorbike"),
    "users": ("Người dùng", "Users"),
    "apply": ("Lọc", "Filter"),
    "from": ("Từ", "From"),
    "to": ("Đến", "To"),
    "language": ("Ngôn ngữ", "Language"),
    "forbidden": ("Bạn không có quyền xem trang này", "You may not see this page"),
    "not_found": ("Không tìm thấy", "Not found"),
    "unknown": ("chưa rõ", "unknown"),
    "charged": ("đã thu", "charged"),
    "free": ("miễn phí", "free"),
    "pending": ("chờ xử lý", "pending"),
    "waived": ("đã miễn", "waived"),
    "unpaid": ("chưa thu", "unpaid"),
    "void": ("hủy", "void"),
    "buyer": ("Người mua", "Buyer"),
    "signed": ("đã ký", "signed"),
    "sent": ("đã gửi CQT", "sent"),
    "accepted": ("CQT chấp nhận", "accepted"),
    "rejected": ("CQT từ chối", "rejected"),
    # who is signed in
    "role_driver": ("lái xe", "driver"),
    "role_operator": ("vận hành", "operator"),
    "role_admin": ("quản trị", "admin"),
    # a parking session's state, when no payment state says more
    "session_open": ("đang gửi", "parked"),
    "session_closed": ("đã ra", "left"),
    "session_void": ("hủy", "void"),
    # the tariff viewer
    "grace": ("Miễn phí đầu", "Grace"),
    "blocks": ("Các block thời gian", "Time blocks"),
    "day_night": ("Ngày / đêm (theo lượt)", "Day / night (per turn)"),
    "daily_cap": ("Trần mỗi ngày", "Daily cap"),
    "passes": ("Vé tháng", "Monthly passes"),
    "holidays": ("ngày lễ", "holidays"),
    "in_force": ("đang áp dụng", "in force"),
    "pass_day": ("ban ngày", "day"),
    "pass_day_night": ("ngày và đêm", "day and night"),
    # billing's decision codes (billing.domain.decisions.Reason)
    "reason_entry_ok": ("vào bãi", "entered"),
    "reason_exit_paid": ("đã trừ phí", "paid"),
    "reason_exit_free": ("miễn phí (ân hạn / vé tháng)", "free (grace or pass)"),
    "reason_exit_overdraft": ("trừ phí, số dư âm", "paid into overdraft"),
    "reason_duplicate": ("trùng lặp", "duplicate"),
    "reason_plate_unreadable": ("không đọc được biển số", "plate unreadable"),
    "reason_unknown_plate": ("biển số chưa đăng ký", "unknown plate"),
    "reason_unknown_plate_entry": ("biển lạ, cho vào", "unknown plate let in"),
    "reason_entry_while_open": ("vào khi đang trong bãi", "entry while already inside"),
    "reason_exit_without_entry": ("ra không có lượt vào", "exit without entry"),
    "reason_low_balance": ("số dư không đủ", "balance too low"),
    "reason_account_suspended": ("tài khoản bị khóa", "account suspended"),
    **CONSOLE_LABELS,
}


def normalize_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG


def translator(lang: str) -> Callable[[str], str]:
    index = 0 if normalize_lang(lang) == "vi" else 1

    def t(key: str) -> str:
        pair = LABELS.get(key)
        return pair[index] if pair else key

    return t


def reason_labels(lang: str) -> dict[str, str]:
    """Decision codes in words, for the pages and the live feed's script."""
    t = translator(lang)
    return {k.removeprefix("reason_"): t(k) for k in LABELS if k.startswith("reason_")}
