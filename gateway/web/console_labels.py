"""Words of the operator console and the admin pages (Vietnamese, English).

Kept apart from the shared catalogue (``gateway.web.i18n``), which includes them, so the
console's pages can grow without editing the driver portal's words.
"""

from __future__ import annotations

# key: (Vietnamese, English)
CONSOLE_LABELS: dict[str, tuple[str, str]] = {
    # search forms
    "all_lots": ("Tất cả các bãi", "All lots"),
    "all": ("Tất cả", "All"),
    "search": ("Tìm kiếm", "Search"),
    "plate_hint": ("Một phần biển số, ví dụ 12345", "Any part of a plate, e.g. 12345"),
    "invoice_code": ("Số hoặc ký hiệu hóa đơn", "Invoice number or code"),
    "invoice_code_hint": (
        "Ví dụ 1C26MPK-00000013, C26MPK, 13",
        "E.g. 1C26MPK-00000013, C26MPK, 13",
    ),
    "bad_date": ("Ngày không hợp lệ", "Not a date"),
    "date_order": ("Ngày kết thúc trước ngày bắt đầu", "The end is before the start"),
    "results": ("kết quả", "results"),
    "page": ("Trang", "Page"),
    "previous": ("Trang trước", "Previous"),
    "next": ("Trang sau", "Next"),
    "live_updates": ("Đang cập nhật trực tiếp", "Updating live"),
    "search_results": ("Kết quả tìm kiếm", "Search results"),
    "clear": ("Xóa bộ lọc", "Clear"),
    # sessions
    "sessions": ("Lượt gửi xe", "Parking sessions"),
    "stay": ("Thời gian gửi", "Stay"),
    "invoice": ("Hóa đơn", "Invoice"),
    "session_status": ("Trạng thái lượt gửi", "Session status"),
    "minutes_short": ("phút", "min"),
    "hours_short": ("giờ", "h"),
    # admin
    "admin": ("Quản trị", "Administration"),
    "audit_log": ("Nhật ký hệ thống", "Audit log"),
    "accounts": ("Tài khoản giao thông", "Transport accounts"),
    "refunds": ("Hoàn tiền", "Refunds"),
    "passes_admin": ("Vé tháng", "Monthly passes"),
    "grants": ("Quyền theo bãi", "Lot grants"),
}
