"""What every page must pass in a real browser, at a phone's and a desktop's size: nothing wider
than the viewport, no serious accessibility violation (axe-core, injected from the npm package
that the test set-up installs), and a screenshot kept as a test artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
AXE_JS = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
# axe's impact levels that fail a page ("moderate" and "minor" are reported, not failed).
FAILING_IMPACTS = ("serious", "critical")


def overflow(page: Any) -> dict[str, Any]:
    """How much wider than the viewport the page is, and the widest offenders."""
    return dict(
        page.evaluate(
            """() => {
              const vw = document.documentElement.clientWidth;
              const wide = [];
              for (const el of document.querySelectorAll('body *')) {
                const r = el.getBoundingClientRect();
                if (r.right > vw + 1 && r.width > 0) {
                  const cls = typeof el.className === 'string' ? el.className : '';
                  wide.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`
                    + `${cls ? '.' + cls.split(' ').join('.') : ''} right=${Math.round(r.right)}`);
                }
              }
              return {scrollWidth: document.documentElement.scrollWidth, viewport: vw,
                      offenders: wide.slice(0, 8)};
            }"""
        )
    )


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not AXE_JS.is_file():
        raise RuntimeError(
            f"{AXE_JS} is missing: run scripts/bootstrap.sh --system-test-deps (npm ci of axe-core)"
        )
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ['violations']});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return list(result)


def check_page(page: Any, name: str, viewport: str) -> None:
    """Fails when the page overflows its viewport or axe finds a serious violation; always
    leaves ``test-artifacts/screenshots/<name>-<viewport>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{viewport}.png"), full_page=True)
    wide = overflow(page)
    assert wide["scrollWidth"] <= wide["viewport"], f"{name} at {viewport} is too wide: {wide}"
    serious = [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]
    assert not serious, f"{name} at {viewport}: {serious}"
