"""CSV downloads for spreadsheets: local time, a UTF-8 mark Excel understands, one shape.

The pages show Asia/Ho_Chi_Minh time; an export in UTC (as the passages CSV was) puts every
morning rush on the wrong hour. Times are written ``YYYY-MM-DD HH:MM:SS`` in local time, which
every spreadsheet parses, and the column names say which zone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response

from billing.domain.vn import LOCAL_TZ_NAME
from gateway.web.formatting import local_time

# Rows of one export: a day of a busy lot fits; more is a report's job, not a download's.
CsvLimit = Annotated[int, Query(ge=1, le=50_000, description="at most this many rows")]
UTF8_BOM = "\ufeff"  # Excel reads Vietnamese names right only with it


def local_column(name: str) -> str:
    return f"{name} ({LOCAL_TZ_NAME})"


def local_cell(value: datetime | None) -> str:
    return "" if value is None else local_time(value, "%Y-%m-%d %H:%M:%S")


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    buf = io.StringIO()
    buf.write(UTF8_BOM)
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
