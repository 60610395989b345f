"""The edge computer's install and process: how big, how much memory, how fast to the first read.

What a gate box gets, measured as an installer would make it:

1. A fresh virtualenv with ``pip install '<repo>[edge]'`` (not editable: the package is copied
   in, as on a box), from PyPI and the machine's local wheels. ``venv_mb``: its size on disk
   (MB = 10^6 bytes, blocks actually used, hard links once). The bench also checks that no
   torch, FastAPI or SQLAlchemy was installed, and that ``parking --help`` and
   ``parking edge check --config-only`` run there.
2. The edge process in that venv, started ``--runs`` times: it loads gate.toml (two lanes on
   simulated I/O, a camera folder with synthetic 1280x720 frames of known plates), builds the
   lanes' I/O and starts it, builds the plate reader from ``[reader]`` (warmed up), takes a
   picture from a lane's camera and reads it. ``first_read_s``: process start to that first
   read done (median of the runs); ``rss_mb``: the process's peak resident memory
   (``VmHWM``) after reading ``--reads`` more events (median).

3. With ``--outage S`` (``bench/edge_outage.py``): ``--minutes`` of traffic through an edge
   process serving ``--gates`` lanes of one lot (lpr's reader, the machine's Mosquitto, billing
   on a PostgreSQL database of its own), the gateway stopped for S seconds in the middle:
   ``passages``, ``opened_without_person`` (share of allow-listed cars the edge let through
   alone during the outage), ``settled_after_recovery`` (share of offline decisions billing
   settled exactly once), ``double_charges``, ``exposure_vnd``.

Goals (issue 11): ``venv_mb`` <= 600, ``rss_mb`` <= 400, ``first_read_s`` <= 5;
``opened_without_person`` >= 0.99, ``settled_after_recovery`` = 1, ``double_charges`` = 0.
Usage::

    .venv/bin/python bench/edge.py            # builds the venv (a few minutes), then measures
    .venv/bin/python bench/edge.py --venv /tmp/edge-venv --keep --json
    .venv/bin/python bench/edge.py --minutes 5 --gates 8 --outage 120 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.config_draft import simulated_config  # noqa: E402
from simulator.plates import render_frame, spec_from_text  # noqa: E402

GOALS = {"venv_mb": 600.0, "rss_mb": 400.0, "first_read_s": 5.0}
OUTAGE_GOALS = {
    "opened_without_person": (">=", 0.99),
    "settled_after_recovery": ("=", 1.0),
    "double_charges": ("=", 0),
}
NOT_ON_A_GATE_BOX = (
    "torch",
    "torchvision",
    "easyocr",
    "fastapi",
    "sqlalchemy",
    "alembic",
    "psycopg",
)
PLATES = ("30A-123.45", "29C-678.90", "51F-246.80", "43A-135.79")

# Runs inside the edge venv: the edge process up to its first read, then more reads.
EDGE_PROCESS = r"""
import json, sys, time
from pathlib import Path
import edge.lane  # the lanes' buffer and MQTT link, loaded as the edge process will
from edge.config import load_config
from edge.io.build import build_io
from edge.reader import plate_reader

config = load_config(Path(sys.argv[1]))
gate = build_io(config)
gate.start()
reader = plate_reader(config.reader)
lane = gate.lanes["in1"]
frames, crop = lane.camera.capture()
first = reader.read(frames, crop)
print(json.dumps({"event": "first_read", "text": first.text}), flush=True)
texts = [first.text]
for _ in range(int(sys.argv[2])):
    frames, crop = lane.camera.capture()
    texts.append(reader.read(frames, crop).text)
status = dict(
    line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
)
heavy = sorted(m for m in sys.argv[3].split(",") if m in sys.modules)
gate.close()
print(json.dumps({"event": "done", "texts": texts, "heavy_imported": heavy,
                  "vm_hwm_kb": int(status["VmHWM"].split()[0]),
                  "vm_rss_kb": int(status["VmRSS"].split()[0])}), flush=True)
"""


def disk_usage(path: Path) -> int:
    """Bytes of disk blocks used under ``path``, each inode once (what ``du`` reports)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(folder, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def source_copy(into: Path) -> Path:
    """The repository's tracked files as they are now (pip builds in the source folder: a copy
    keeps build/ and *.egg-info out of the work tree)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


def build_venv(venv: Path, work: Path) -> float:
    started = time.monotonic()
    source = source_copy(work / "src")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            f"{source}[edge]",
        ],
        check=True,
        timeout=1800,
    )
    shutil.rmtree(source)
    return time.monotonic() - started


def installed(venv: Path) -> dict[str, str]:
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format", "json", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    )
    return {p["name"].lower(): p["version"] for p in json.loads(done.stdout)}


def largest_packages(venv: Path, n: int = 6) -> list[tuple[str, float]]:
    site = next((venv / "lib").glob("python3*/site-packages"))
    sizes = [(p.name, disk_usage(p) / 1e6) for p in site.iterdir() if p.is_dir()]
    return sorted(sizes, key=lambda x: -x[1])[:n]


def cli_works(venv: Path, config: Path) -> dict[str, bool]:
    parking = str(venv / "bin" / "parking")
    helped = subprocess.run([parking, "--help"], capture_output=True, text=True, timeout=120)
    checked = subprocess.run(
        [parking, "edge", "check", "--config", str(config), "--config-only"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {
        "parking_help": helped.returncode == 0 and "edge" in helped.stdout,
        "edge_check_config": checked.returncode == 0,
    }


def write_frames(folder: Path) -> list[str]:
    """Synthetic 1280x720 camera frames of known plates (the project's renderer), two frames of
    each car in a row, as the lane's camera (2 frames per event) takes them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    for i, text in enumerate(PLATES):
        for shot in "ab":
            frame = render_frame(rng, spec_from_text(text), night=False)
            assert frame.jpeg is not None
            (folder / f"{i:02d}{shot}.jpg").write_bytes(frame.jpeg)
    return list(PLATES)


def run_edge_process(venv: Path, config: Path, reads: int) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(venv / "bin" / "python"), "-c", EDGE_PROCESS, str(config), str(reads),
         ",".join(NOT_ON_A_GATE_BOX)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tempfile.gettempdir(),  # never the repository: the venv's own copy is measured
    )  # fmt: skip
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline() or "{}")
    first_read_s = time.monotonic() - started
    done = json.loads(proc.stdout.readline() or "{}")
    _, err = proc.communicate(timeout=300)
    if proc.returncode != 0 or first.get("event") != "first_read":
        raise RuntimeError(f"the edge process failed:\n{err}")
    return {"first_read_s": first_read_s, **done}


def print_table(result: dict[str, Any], table: Any, reads: int, cli: dict[str, bool]) -> None:
    """The figures against their goals (--json: on stderr, stdout holds the JSON alone)."""
    print(f"{'figure':<14}{'value':>10}{'goal':>10}  verdict", file=table)
    for key, goal in GOALS.items():
        verdict = "ok" if result[key] <= goal else "MISSED"
        print(f"{key:<14}{result[key]:>10}{'<= ' + str(int(goal)):>10}  {verdict}", file=table)
    for key, (op, goal) in OUTAGE_GOALS.items():
        if key in result:
            value = result[key]
            met = value is not None and (value >= goal if op == ">=" else value == goal)
            print(
                f"{key:<24}{value!s:>10}{op + ' ' + str(goal):>10}  {'ok' if met else 'MISSED'}",
                file=table,
            )
    lines = [
        f"plates read exactly: {result['reads_exact']:.0%} of {reads} synthetic events",
        "installed that a gate box must not carry: "
        f"{result['not_on_a_gate_box_installed'] or 'none'}",
        f"imported by the edge process: {result['heavy_imported'] or 'nothing heavy'}",
        f"CLI in the edge venv: {cli}",
        "largest packages (MB): "
        + ", ".join(f"{k} {v}" for k, v in result["largest_packages_mb"].items()),
    ]
    print("\n".join(lines), file=table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--venv", type=Path, help="the edge venv (built there when missing)")
    ap.add_argument("--keep", action="store_true", help="keep a venv the bench built")
    ap.add_argument("--runs", type=int, default=3, help="edge process starts to measure")
    ap.add_argument("--reads", type=int, default=20, help="events read after the first")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--minutes", type=float, default=5, help="traffic with --outage")
    ap.add_argument("--gates", type=int, default=8, help="lanes of the lot with --outage")
    ap.add_argument("--outage", type=float, default=0, help="gateway stopped this long (s)")
    ap.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL database to create the bench's own from (and drop it after)",
    )
    ap.add_argument("--mqtt-port", type=int, default=1883, help="Mosquitto on 127.0.0.1")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    venv = args.venv or work / "venv"
    try:
        install_s = None
        if not (venv / "bin" / "parking").exists():
            print(
                f"building {venv} with pip install '.[edge]' (a few minutes) ...", file=sys.stderr
            )
            install_s = build_venv(venv, work)
        packages = installed(venv)
        config = work / "gate.toml"
        frames = work / "frames"
        plates = write_frames(frames)
        config.write_text(
            simulated_config(
                "bench-lot", {"in1": "entry", "out1": "exit"}, frames, data_dir=work / "data"
            )
        )
        config.chmod(0o600)
        cli = cli_works(venv, config)
        runs = []
        for i in range(args.runs):
            print(f"edge process, start {i + 1} of {args.runs} ...", file=sys.stderr)
            runs.append(run_edge_process(venv, config, args.reads))
        read_ok = [t == plates[j % len(plates)] for r in runs for j, t in enumerate(r["texts"])]
        result: dict[str, Any] = {
            "venv_mb": round(disk_usage(venv) / 1e6, 1),
            "rss_mb": round(statistics.median(r["vm_hwm_kb"] for r in runs) / 1024, 1),
            "first_read_s": round(statistics.median(r["first_read_s"] for r in runs), 2),
            "first_read_s_runs": [round(r["first_read_s"], 2) for r in runs],
            "rss_mb_runs": [round(r["vm_hwm_kb"] / 1024, 1) for r in runs],
            "reads_exact": round(sum(read_ok) / len(read_ok), 3),
            "heavy_imported": sorted({m for r in runs for m in r["heavy_imported"]}),
            "not_on_a_gate_box_installed": sorted(p for p in packages if p in NOT_ON_A_GATE_BOX),
            "install_s": None if install_s is None else round(install_s, 1),
            "largest_packages_mb": {name: round(mb, 1) for name, mb in largest_packages(venv)},
            "cli": cli,
        }
        if args.outage:
            from bench.edge_outage import run as outage_run

            print(
                f"traffic: {args.minutes} min, {args.gates} lanes, gateway down "
                f"{args.outage:.0f} s in the middle ...",
                file=sys.stderr,
            )
            result |= outage_run(
                args.minutes,
                args.gates,
                args.outage,
                args.database_url,
                ("127.0.0.1", args.mqtt_port),
                work,
            )
    finally:
        if not args.keep:  # the frames, config and buffers; a --venv given stays where it is
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)

    print_table(result, sys.stderr if args.json else sys.stdout, len(read_ok), cli)
    out = ROOT / "bench" / "results" / "edge.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        },
        "goals": {**GOALS, **{k: f"{op} {v}" for k, (op, v) in OUTAGE_GOALS.items()}},
        **result,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    if args.json:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
