"""`parking lpr read [--json] IMAGE...`: read plates from image files, one line per image."""

from __future__ import annotations

import json
import logging
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lpr.errors import LprError

log = logging.getLogger(__name__)

app = typer.Typer(help="Plate reading (offline Vietnamese LPR).", no_args_is_help=True)

#: Below this many pixels an image is taken for a plate crop, not a camera frame.
CROP_PIXELS = 600_000


class Mode(StrEnum):
    auto = "auto"
    crop = "crop"
    frame = "frame"


@app.command("read")
def read(
    images: Annotated[list[Path], typer.Argument(help="JPEG/PNG files")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    mode: Annotated[
        Mode, typer.Option(help="crop: each image is a plate crop; frame: a camera frame")
    ] = Mode.auto,
    recognizer: Annotated[str, typer.Option(help="auto, plate, rapidocr or easyocr")] = "auto",
) -> None:
    """Read the plate in each image; exit code 1 if any image could not be read as an image."""
    from lpr.images import to_bgr
    from lpr.reader import PlateReader

    try:
        reader = PlateReader(recognizer)
    except LprError as exc:  # a recognizer whose model or package is missing
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    failed = False
    for path in images:
        t0 = time.perf_counter()
        try:
            data = path.read_bytes()
            img = to_bgr(data)
            crop_mode = mode == Mode.crop or (
                mode == Mode.auto and img.shape[0] * img.shape[1] < CROP_PIXELS
            )
            r = reader.read([img], crop="frame" if crop_mode else None)
        except (OSError, LprError) as exc:
            failed = True
            log.warning("lpr read %s: %s", path, exc)
            ms = (time.perf_counter() - t0) * 1000
            if as_json:
                err: dict[str, object] = {
                    "file": str(path),
                    "plate": None,
                    "confidence": 0.0,
                    "ms": round(ms, 1),
                    "error": str(exc),
                }
                typer.echo(json.dumps(err, ensure_ascii=False))
            else:
                typer.echo(f"{path}\tERROR\t{exc}")
            continue
        ms = (time.perf_counter() - t0) * 1000
        if as_json:
            out: dict[str, object] = {
                "file": str(path),
                "plate": r.text,
                "key": r.key,
                "confidence": r.confidence,
                "auto_ok": r.auto_ok,
                "kind": r.kind,
                "lines": r.lines,
                "bbox": list(r.bbox) if r.bbox else None,
                "candidates": [c.text for c in r.candidates],
                "ms": round(ms, 1),
            }
            typer.echo(json.dumps(out, ensure_ascii=False))
        else:
            verdict = "auto" if r.auto_ok else "review"
            typer.echo(f"{path}\t{r.text or '-'}\t{r.confidence:.3f}\t{verdict}\t{ms:.0f} ms")
    if failed:
        raise typer.Exit(1)
