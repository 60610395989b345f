"""E-invoice benchmark: invoices built and signed per second on one core, verifications per second.

    .venv/bin/python bench/einvoice.py                 # ~3 s per measurement
    .venv/bin/python bench/einvoice.py --seconds 10 --json

Everything runs in this one process on one thread (RSA signing in OpenSSL is single-threaded),
so the figures are per core. Goals (issue 5): >= 800 invoices built and signed per second per
core, >= 1,000 validations per second; (issue 14) building and signing at >= 0.7 of bare
RSA-2048 signatures per CPU-second, the two measured in this run in alternating rounds (the
median of the pairs is the figure: a pair sees one moment of the shared machine). The machine's
load average is recorded with the figures: other work on the same cores lowers them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from einvoice.invoice_request import invoice_from_request  # noqa: E402
from einvoice.keys import ensure_demo_keys  # noqa: E402
from einvoice.model import LOCAL_TZ  # noqa: E402
from einvoice.signing import SignatureStyle, Signer  # noqa: E402
from einvoice.verify import verify_invoice  # noqa: E402
from einvoice.xml_build import build_hdon, hdon_text  # noqa: E402
from einvoice.xsd import validate  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "einvoice.json"
SELLER_MST = "0101234567"
GOAL_SIGNED = 800.0
GOAL_VALIDATIONS = 1000.0
GOAL_RATIO_TO_RSA = 0.7  # invoices built and signed / bare RSA-2048 signatures, per CPU-second


def payload(i: int) -> dict[str, Any]:
    exit_at = datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL_TZ) + timedelta(seconds=i)
    return {
        "event_id": f"ev-{i}",
        "journal_entry_id": i,
        "session_id": i,
        "lot_id": "HN-HK-01",
        "lot_name": "Bãi xe Hoàn Kiếm",
        "gate_id": "exit-2",
        "plate": f"30A-{i % 1000:03d}.{i % 100:02d}",
        "vehicle_class": "car" if i % 3 else "motorbike",
        "entry_at": (exit_at - timedelta(minutes=95 + i % 300)).isoformat(),
        "exit_at": exit_at.isoformat(),
        "fare_vnd": 5_000 + 1_000 * (i % 200),
        "seller": {
            "name": "Công ty TNHH Bãi Đỗ Xe Thông Minh",
            "tax_code": SELLER_MST,
            "address": "1 Tràng Tiền, phường Hoàn Kiếm, Hà Nội",
            "invoice_template": "1",
            "invoice_series": "C26MPK",
            "invoice_mode": "cash_register",
            "cash_register_code": "41849",
        },
        "buyer": {
            "account_id": 1000 + i,
            "kind": "business" if i % 10 == 0 else "person",
            "name": "Công ty Cổ phần Vận tải Đông Á" if i % 10 == 0 else "Nguyễn Văn An",
            "tax_code": "0309876543" if i % 10 == 0 else None,
            "address": "12 Lê Lợi, TP. Hồ Chí Minh" if i % 10 == 0 else None,
        },
    }


def _round(fn: Callable[[int], object], seconds: float, start: int) -> tuple[int, float, float]:
    count = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0 + seconds
    while True:
        for _ in range(10):
            fn(start + count)
            count += 1
        if time.perf_counter() >= deadline:
            break
    return count, time.process_time() - cpu0, time.perf_counter() - wall0


def rate(
    fn: Callable[[int], object], seconds: float, rounds: int = 7, warmup: int = 20
) -> dict[str, float]:
    """Calls of ``fn(i)`` per CPU-second of this process (per core) and per wall-second.

    On a shared machine the wall-clock rate mostly measures the other processes; CPU time
    charged to this single-threaded process is what one core delivers. The time is split in
    ``rounds``: the best round is the least disturbed (as timeit takes the minimum), the median
    shows the spread.
    """
    for i in range(warmup):
        fn(i)
    results = [_round(fn, seconds / rounds, r * 1_000_000) for r in range(rounds)]
    cpu_rates = sorted(count / cpu for count, cpu, _ in results if cpu > 0)
    count = sum(c for c, _, _ in results)
    wall = sum(w for _, _, w in results)
    best = cpu_rates[-1]
    return {
        "per_cpu_second": best,
        "per_cpu_second_median": statistics.median(cpu_rates),
        "per_wall_second": count / wall,
        "ms_cpu_per_call": 1000 / best,
        "calls": count,
    }


def paired_ratio(
    fn: Callable[[int], object], floor: Callable[[int], object], seconds: float, pairs: int = 9
) -> list[float]:
    """``fn``'s calls per CPU-second over ``floor``'s, the two measured in alternating rounds:
    each pair sees the same moment of a shared machine, so the ratio of a pair does not carry
    the load that changed between two separate measurements. One ratio per pair."""
    for i in range(20):
        fn(i), floor(i)
    ratios = []
    for r in range(pairs):
        a_count, a_cpu, _ = _round(fn, seconds / pairs / 2, r * 1_000_000)
        b_count, b_cpu, _ = _round(floor, seconds / pairs / 2, r * 1_000_000)
        ratios.append((a_count / a_cpu) / (b_count / b_cpu))
    return ratios


def mock_validation(ca_dir: Path, signed: list[bytes]) -> Callable[[int], object] | None:
    """The mock tax authority's full check of one invoice, when that package is importable."""
    try:
        from simulator.tax_authority.checks import validate_invoice
        from simulator.tax_authority.registry import InMemoryRegistry, RegisteredSeller
    except ImportError:
        return None
    registry = InMemoryRegistry()
    registry.add(RegisteredSeller(SELLER_MST, "Bãi Đỗ Xe", "41849", ("1/C??MPK",)))
    now = datetime(2026, 3, 2, 12, tzinfo=LOCAL_TZ)

    def check(i: int) -> object:
        result = validate_invoice(signed[i % len(signed)], registry, now=now)
        if not result.ok:
            raise AssertionError(f"the mock rejected a good invoice: {result.problems}")
        return result

    return check


Row = tuple[str, str, Callable[[int], object], float | None]


@dataclass(frozen=True)
class Workload:
    """Signed invoices to verify, and the calls each measurement makes (``fn(i)``)."""

    signed: list[bytes]
    build_sign: Callable[[int], object]
    rsa_raw: Callable[[int], object]
    rows: list[Row]


def builders(
    signer: Signer, payloads: list[dict[str, Any]], issued: datetime
) -> tuple[Callable[[int], bytes], Callable[[int], bytes], Callable[[int], bytes]]:
    """Invoice i built, built and signed, and built and signed through an lxml tree."""

    # What the issuing worker does (einvoice.maker): model -> canonical text -> signature.
    def build(i: int) -> bytes:
        inv = invoice_from_request(
            payloads[i % 500], number=i + 1, issued_at=issued, mccqt_sequence=i + 1
        )
        return hdon_text(inv).document()

    def build_sign(i: int) -> bytes:
        inv = invoice_from_request(
            payloads[i % 500], number=i + 1, issued_at=issued, mccqt_sequence=i + 1
        )
        return signer.sign_seller(hdon_text(inv), issued)

    def build_tree_sign(i: int) -> bytes:
        inv = invoice_from_request(
            payloads[i % 500], number=i + 1, issued_at=issued, mccqt_sequence=i + 1
        )
        return signer.sign_seller(build_hdon(inv), issued)

    return build, build_sign, build_tree_sign


def workload(tmp: Path) -> Workload:
    """Demo keys in ``tmp``, 500 invoice requests, their signed forms, and the measurements."""
    keys = ensure_demo_keys(
        tmp, SELLER_MST, valid_from=datetime(2025, 1, 1, tzinfo=UTC), valid_days=3650
    )
    signer = Signer.from_pkcs12(keys.seller_pkcs12, keys.password)
    sha1_signer = signer.with_style(SignatureStyle(method="rsa-sha1", digest="sha1"))
    authority = Signer.from_pkcs12(keys.authority_pkcs12, keys.password)
    payloads = [payload(i) for i in range(500)]
    issued = datetime(2026, 3, 2, 10, 0, 5, tzinfo=LOCAL_TZ)

    build, build_sign, build_tree_sign = builders(signer, payloads, issued)
    signed = [build_sign(i) for i in range(200)]
    sha1_signed = [
        sha1_signer.sign_seller(
            build_hdon(invoice_from_request(payloads[i], number=i + 1, issued_at=issued)),
            issued,
        )
        for i in range(50)
    ]
    countersigned = [
        authority.countersign_authority(s, issued, mccqt=f"00A1B2C3D4E5F60718293{i:02d}")
        for i, s in enumerate(signed[:50])
    ]
    for xml in (*signed[:5], *sha1_signed[:5], *countersigned[:5]):
        report = verify_invoice(xml)
        assert report.valid, report.error

    def rsa_raw(i: int) -> object:
        key = signer.key
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(b"%d" % i, padding.PKCS1v15(), hashes.SHA256())

    rows = [
        ("rsa2048_sign_raw", "bare RSA-2048 PKCS#1 v1.5 signatures (the floor)", rsa_raw, None),
        ("build", "invoices built (model + XML), not signed", build, None),
        ("build_sign", "invoices built and signed (RSA-2048, SHA-256)", build_sign, GOAL_SIGNED),
        (
            "build_tree_sign",
            "the same through an lxml tree (countersigning's path)",
            build_tree_sign,
            None,
        ),
        *verification_rows(signed, sha1_signed, countersigned),
    ]
    mock = mock_validation(tmp, signed)
    if mock is not None:
        rows.append(
            (
                "mock_validation",
                "mock tax authority validate_invoice (all checks)",
                mock,
                GOAL_VALIDATIONS,
            )
        )
    return Workload(signed, build_sign, rsa_raw, rows)


def verification_rows(
    signed: list[bytes], sha1_signed: list[bytes], countersigned: list[bytes]
) -> list[Row]:
    """Verifying signatures and the schema, and the mock authority's full check."""

    def verify(i: int) -> object:
        report = verify_invoice(signed[i % len(signed)])
        assert report.valid
        return report

    return [
        ("verify", "verify_invoice, seller signature", verify, GOAL_VALIDATIONS),
        (
            "verify_sha1",
            "verify_invoice, RSA-SHA1 seller signature",
            lambda i: verify_invoice(sha1_signed[i % 50]),
            None,
        ),
        (
            "verify_countersigned",
            "verify_invoice, seller + authority signatures",
            lambda i: verify_invoice(countersigned[i % 50]),
            None,
        ),
        ("xsd", "XSD validation", lambda i: validate(signed[i % len(signed)]), None),
        (
            "verify_and_xsd",
            "XSD + signatures (the document checks)",
            lambda i: (validate(signed[i % 200]), verify_invoice(signed[i % 200])),
            GOAL_VALIDATIONS,
        ),
    ]


def measure(rows: list[Row], seconds: float) -> dict[str, Any]:
    """Each row's rates (best and median of 7 rounds per CPU-second) against its goal."""
    results: dict[str, Any] = {}
    for name, label, fn, goal in rows:
        r = rate(fn, seconds)
        results[name] = {
            "label": label,
            "per_second": round(r["per_cpu_second"], 1),
            "per_second_median": round(r["per_cpu_second_median"], 1),
            "per_wall_second": round(r["per_wall_second"], 1),
            "ms_cpu_per_call": round(r["ms_cpu_per_call"], 3),
            "calls": int(r["calls"]),
            "goal_per_second": goal,
            "meets_goal": None if goal is None else r["per_cpu_second"] >= goal,
        }
    return results


def ratio_entry(paired: list[float], results: dict[str, Any]) -> dict[str, Any]:
    """Built-and-signed over bare RSA: the median of the alternating pairs, and its goal."""
    ratio = statistics.median(paired)
    return {
        "label": "invoices built and signed / bare RSA-2048 signatures, per CPU-second, "
        "measured in alternating rounds (median of the pairs)",
        "ratio": round(ratio, 3),
        "ratio_pairs": [round(r, 3) for r in paired],
        "ratio_of_best_rounds": round(
            results["build_sign"]["per_second"] / results["rsa2048_sign_raw"]["per_second"], 3
        ),
        "goal": GOAL_RATIO_TO_RSA,
        "meets_goal": ratio >= GOAL_RATIO_TO_RSA,
    }


def run_meta(seconds: float, invoice_bytes: int) -> dict[str, Any]:
    """When and where the figures were taken, with the machine's load."""
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(load[0], 2),
        "seconds_per_measurement": seconds,
        "invoice_bytes": invoice_bytes,
        "processes": 1,
        "rounds": 7,
        "note": "per_second = best of 7 rounds of calls per CPU-second of this one-threaded "
        "process; on a loaded machine wall-clock rates mostly measure the other processes",
    }


def print_report(results: dict[str, Any], paired: list[float], meta: dict[str, Any]) -> None:
    print(
        f"{'measurement':<22} {'/cpu-s':>8} {'median':>8} {'/wall-s':>8} {'ms cpu':>7} "
        f"{'goal':>6}  ok   what"
    )
    for name, r in results.items():
        if "ratio" in r:
            continue
        goal_text = "" if r["goal_per_second"] is None else f"{r['goal_per_second']:.0f}"
        ok = "" if r["meets_goal"] is None else ("yes" if r["meets_goal"] else "NO")
        print(
            f"{name:<22} {r['per_second']:>8.1f} {r['per_second_median']:>8.1f} "
            f"{r['per_wall_second']:>8.1f} "
            f"{r['ms_cpu_per_call']:>7.3f} {goal_text:>6}  {ok:<4} {r['label']}"
        )
    share = results["build_sign_vs_rsa"]
    print(
        f"built and signed / bare RSA-2048: {share['ratio']:.3f} (median of "
        f"{len(paired)} alternating pairs, {paired[0]:.3f}-{paired[-1]:.3f}; best rounds "
        f"{share['ratio_of_best_rounds']:.3f}; goal {GOAL_RATIO_TO_RSA}: "
        f"{'yes' if share['meets_goal'] else 'NO'})"
    )
    print(
        "one process, one thread; /cpu-s = per core, best of 7 rounds; "
        f"load average {meta['load_average_1m']} on {meta['cpu_count']} CPUs; "
        f"signed invoice {meta['invoice_bytes']} bytes"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--json", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = workload(Path(tmp))
        paired = sorted(paired_ratio(work.build_sign, work.rsa_raw, 2 * args.seconds))
        results = measure(work.rows, args.seconds)
    results["build_sign_vs_rsa"] = ratio_entry(paired, results)
    meta = run_meta(args.seconds, len(work.signed[0]))
    print_report(results, paired, meta)
    if args.json:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps({"meta": meta, "results": results}, ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
