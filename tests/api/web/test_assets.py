"""Vendor scripts come from installed packages, gzipped, cacheable; /docs works offline."""

from __future__ import annotations

import re

from tests.api.web.conftest import Env


def test_plotly_is_served_locally_gzipped_and_cacheable(gw_env: Env) -> None:
    c = gw_env.client
    r = c.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    assert r.headers["content-encoding"] == "gzip"
    assert "immutable" in r.headers["cache-control"]
    wire = int(r.headers["content-length"])
    assert "plotly" in r.text[:2000].lower()  # httpx inflated it: it is real gzip
    assert wire < len(r.content) / 3  # 4.8 MB of JavaScript travels as well under a third
    again = c.get(
        "/static/vendor/plotly.min.js",
        headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]},
    )
    assert again.status_code == 304 and not again.content
    plain = c.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(plain.content) == int(plain.headers["content-length"]) > wire
    assert c.get("/static/vendor/nope.js").status_code == 404


def test_docs_load_swagger_ui_from_this_server(gw_env: Env) -> None:
    c = gw_env.client
    page = c.get("/docs").text
    sources = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page)
    assert sources, page
    assert all(s.startswith("/static/vendor/") for s in sources), sources
    js = next(s for s in sources if "swagger-ui-bundle.js" in s)
    r = c.get(js, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert "SwaggerUIBundle" in r.text
    assert c.get(next(s for s in sources if s.endswith(".css") or ".css?" in s)).status_code == 200
    redoc = c.get("/redoc").text
    assert "cdn." not in redoc and "fonts.googleapis" not in redoc
    assert c.get("/openapi.json").json()["info"]["title"]


def test_pages_and_json_are_compressed_on_the_way_out(gw_env: Env) -> None:
    r = gw_env.client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    assert r.json()["openapi"]
    css = gw_env.client.get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200 and css.headers.get("content-encoding") == "gzip"
    tiny = gw_env.client.get("/livez", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in tiny.headers  # not worth it under 1 KiB


def test_background_compression_runs_at_the_lowest_cpu_priority() -> None:
    """The warm-up thread must not take a core from the plate readers: nice 19, its own."""
    import os
    import threading

    from gateway.web import assets

    seen: dict[str, int] = {}

    def probe() -> None:
        assert assets.lowest_priority()
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, 0)
    t = threading.Thread(target=probe)
    t.start()
    t.join(10)
    assert seen["thread"] == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # not the caller
