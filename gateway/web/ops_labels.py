"""Words of the operator's review queue, lot lists and alerts (Vietnamese, English).

Apart from ``console_labels`` so that these pages can grow while others edit theirs;
``gateway.web.i18n`` includes both.
"""

from __future__ import annotations

# key: (Vietnamese, English)
OPS_LABELS: dict[str, tuple[str, str]] = {
    # review queue
    "passages": ("Lượt qua cổng", "Passages"),  # the passage page's title (operator/passage.html)
    "suggested_fare": ("Phí đề xuất", "Suggested fare"),
    "quote_from_session": ("theo biểu phí lúc ra", "tariff at exit"),
    "quote_from_tariff": ("tính theo biểu phí đến lúc ra", "priced by the tariff up to exit"),
    "quote_from_gate": ("phí cổng đã báo", "the fare the gate showed"),
    "waive_reason_hint": ("Ví dụ: xe công vụ", "E.g. official vehicle"),
    "frame_of_entry": ("Ảnh lúc vào", "Entry frame"),
    "frame_of_exit": ("Ảnh lúc ra", "Exit frame"),
    "plate_zoom": ("Biển số phóng to", "Plate, zoomed"),
    "no_plate_found": ("Không tìm thấy vùng biển số trên ảnh", "No plate found on the frames"),
    "recently_resolved": ("Vừa xử lý", "Recently resolved"),
    "state": ("Trạng thái", "State"),
    "review_pending": ("chờ xử lý", "pending"),
    "review_resolved": ("đã xử lý", "resolved"),
    "review_none": ("không cần xử lý", "no review needed"),
    "void": ("đã hủy", "void"),
    "payment_pending": ("chờ thu phí", "payment pending"),
    "payment_charged": ("đã thu phí", "charged"),
    "payment_free": ("miễn phí", "free"),
    "payment_waived": ("được miễn", "waived"),
    "action_correct_plate": ("sửa biển số", "plate corrected"),
    "action_charge": ("thu phí", "charged"),
    "action_waive": ("miễn phí", "waived"),
    "reason_listed_plate": ("biển số trong danh sách đen", "blacklisted plate"),
    # lot lists
    "lot_lists": ("Danh sách biển số", "Plate lists"),
    "list_kind": ("Danh sách", "List"),
    "list_blacklist": ("Danh sách đen", "Blacklist"),
    "list_whitelist": ("Danh sách trắng", "Whitelist"),
    "list_vip": ("VIP", "VIP"),
    "list_note": ("Ghi chú", "Note"),
    "list_add": ("Thêm vào danh sách", "Add to list"),
    "list_remove": ("Xóa", "Remove"),
    "added_by": ("Người thêm", "Added by"),
    "list_policy_help": (
        "Danh sách đen: giữ barie đóng và cảnh báo. Danh sách trắng: mở, không thu phí. "
        "VIP: mở, thu phí như thường (số dư thấp vẫn được ra, ghi nợ).",
        "Blacklist: keep the barrier closed and alert. Whitelist: open, no charge. "
        "VIP: open, charged as usual (a low balance still leaves, into overdraft).",
    ),
    # alerts
    "alerts": ("Cảnh báo", "Alerts"),
    "alert_open": ("đang diễn ra", "active"),
    "alert_since": ("Từ", "Since"),
    "no_alerts": ("Không có cảnh báo", "No alerts"),
    "alert_history": ("Cảnh báo gần đây", "Recent alerts"),
    "alert_cleared_at": ("đã hết", "cleared"),
    "delivery_pending": ("đang gửi", "sending"),
    "delivery_sent": ("đã gửi", "sent"),
    "delivery_failed": ("gửi lỗi", "failed"),
}
