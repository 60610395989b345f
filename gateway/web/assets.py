"""Third-party browser assets served from the installed Python packages, compressed once.

The machines have no internet, so pages may not load Plotly or Swagger UI from a CDN; the
packages ship them (plotly's ``plotly.min.js``, fastapi-offline's Swagger UI and ReDoc). Plotly
alone is 4.8 MB: sent as it is, it made the dashboard weigh 5.7 MB. Each asset is compressed
once per process (zopfli when installed: gzip that any browser reads, about 4 % smaller than
zlib's best) and kept on disk under ``<data dir>/cache/vendor`` so a restart does not pay again.
URLs carry the package version, so browsers may keep a copy for a year.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
PREFIX = "/static/vendor"
LONG_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class VendorAsset:
    """One file inside an installed package: ``package`` is imported to find its folder."""

    package: str
    relative: str
    media_type: str

    @property
    def path(self) -> Path:
        module = importlib.import_module(self.package)
        return Path(str(module.__file__)).resolve().parent / self.relative

    @property
    def version(self) -> str:
        module = importlib.import_module(self.package)
        return str(getattr(module, "__version__", "") or _dist_version(self.package))


def _dist_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package.replace("_", "-"))
    except PackageNotFoundError:
        return "0"


ASSETS: dict[str, VendorAsset] = {
    "plotly.min.js": VendorAsset(
        "plotly", "package_data/plotly.min.js", "application/javascript; charset=utf-8"
    ),
    "swagger-ui-bundle.js": VendorAsset(
        "fastapi_offline", "static/swagger-ui-bundle.js", "application/javascript; charset=utf-8"
    ),
    "swagger-ui.css": VendorAsset(
        "fastapi_offline", "static/swagger-ui.css", "text/css; charset=utf-8"
    ),
    "redoc.standalone.js": VendorAsset(
        "fastapi_offline", "static/redoc.standalone.js", "application/javascript; charset=utf-8"
    ),
    "favicon.png": VendorAsset("fastapi_offline", "static/favicon.png", "image/png"),
}
COMPRESSIBLE = ("application/javascript", "text/css")


def asset_url(name: str) -> str:
    """``/static/vendor/<name>?v=<package version>``: a new version is a new URL."""
    return f"{PREFIX}/{name}?v={ASSETS[name].version}"


def _zopfli() -> Callable[[bytes], bytes] | None:
    try:
        from zopfli.gzip import compress
    except ModuleNotFoundError:
        return None

    def run(data: bytes) -> bytes:
        return bytes(compress(data, numiterations=5))

    return run


def compress(data: bytes) -> bytes:
    """gzip of ``data``: zopfli's when installed (smaller, slow once), else zlib's best."""
    best = _zopfli()
    return best(data) if best is not None else gzip.compress(data, compresslevel=9, mtime=0)


@dataclass(frozen=True)
class Prepared:
    raw: bytes
    gzipped: bytes | None
    etag: str


_lock = threading.Lock()
_memory: dict[Path, Prepared] = {}  # per process, whatever the data dir


def _prepared(path: Path, media_type: str, cache_dir: Path | None) -> Prepared:
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:20]
    gzipped = None
    if media_type.startswith(COMPRESSIBLE):
        cached = cache_dir / f"{path.name}.{digest}.gz" if cache_dir is not None else None
        if cached is not None and cached.is_file():
            gzipped = cached.read_bytes()
        else:
            gzipped = compress(raw)
            if cached is not None:
                try:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cached.with_suffix(".tmp")
                    tmp.write_bytes(gzipped)
                    tmp.replace(cached)
                except OSError as exc:  # a read-only data dir only costs the next start
                    log.warning("cannot keep compressed %s in %s: %s", path.name, cache_dir, exc)
    return Prepared(raw, gzipped, f'"{digest}"')


def prepare(name: str, cache_dir: Path | None) -> Prepared:
    asset = ASSETS[name]
    path = asset.path
    with _lock:  # one compression per asset, however many requests wait for it
        if path not in _memory:
            _memory[path] = _prepared(path, asset.media_type, cache_dir)
        return _memory[path]


def lowest_priority() -> bool:
    """Give the calling thread the lowest CPU priority (Linux: a thread has a nice value of its
    own); False where that cannot be done. For background work that must never take a core
    from the gates: zopfli on a first start costs ~18 s of CPU, and a gateway serving gates
    reads their plates on the same cores meanwhile (its gate latency p99 rose by 100-200 ms)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        return False
    return True


def warm(cache_dir: Path | None) -> threading.Thread:
    """Compress every asset in the background, so the first visitor does not wait for it;
    at the lowest CPU priority."""

    def run() -> None:
        lowest_priority()
        for name in ASSETS:
            try:
                prepare(name, cache_dir)
            except (ModuleNotFoundError, OSError) as exc:
                log.info("vendor asset %s not available: %s", name, exc)

    thread = threading.Thread(target=run, name="vendor-assets", daemon=True)
    thread.start()
    return thread


def cache_dir_of(request: Request) -> Path | None:
    settings = getattr(request.app.state, "settings", None)
    data_dir = getattr(settings, "data_dir", None)
    return Path(data_dir) / "cache" / "vendor" if data_dir is not None else None


def accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*") and params.replace(" ", "") != "q=0":
            return True
    return False


@router.get(PREFIX + "/{name}")
def vendor_asset(name: str, request: Request) -> Response:
    """A vendored file: gzip when the browser takes it, 304 when it has this very version."""
    asset = ASSETS.get(name)
    if asset is None:
        raise HTTPException(404, "no such asset")
    try:
        prepared = prepare(name, cache_dir_of(request))
    except (ModuleNotFoundError, OSError) as exc:
        log.warning("vendor asset %s missing: %s", name, exc)
        raise HTTPException(404, "asset not installed") from None
    headers = {"Cache-Control": LONG_CACHE, "ETag": prepared.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == prepared.etag:
        return Response(status_code=304, headers=headers)
    if prepared.gzipped is not None and accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(prepared.gzipped, media_type=asset.media_type, headers=headers)
    return Response(prepared.raw, media_type=asset.media_type, headers=headers)
