"""The cost of ``labrf serve`` to a measurement: the same spin-diode run (``--points``,
10,000 by default, on ``station_configs/sim_bench.yaml``) made locally with the runner,
then through a server process with no viewer, with 1 and with 10 live viewers (each a
client reading the run's server-sent stream).

Per condition, the median over ``--repeats``: the run's wall time as the runner measures
it (in the local process, or in the station's worker), the ratio to the local run's,
points per second delivered to each viewer and the last point's delay behind the run's
end, and the server's memory (its process and its workers', peak resident). A warm-up
run comes first in each place, and the conditions are interleaved (local, 0, 1, 10
viewers, then again), so that drifts of the machine hit them alike. Viewers run in this
process, on the same two cores as the server and its worker: the ratios include their
share of the machine.
Run: ``python benchmarks/serve.py [--points 10000] [--repeats 5] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATION = ROOT / "station_configs" / "sim_bench.yaml"


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, MB (Linux /proc)."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def local_run(station: Any, points: int, folder: Path) -> float:
    """Wall time of one local run on the open ``station``, s."""
    from labrf.runner import run

    result = run("spin-diode", station, {"points": points}, db=folder / "local.db",
                 progress=None)
    assert result.status == "completed", result.error
    return result.wall_time_s


class Viewer(threading.Thread):
    """A client reading run ``run``'s stream: points received and when."""

    def __init__(self, url: str, run: int) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id = url, run
        self.points, self.first, self.last = 0, None, None

    def run(self) -> None:
        import httpx

        with httpx.stream("GET", f"{self.url}/api/runs/{self.run_id}/stream",
                          timeout=120) as stream:
            event = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "end":
                        return
                elif line.startswith("data: ") and event == "points":
                    now = time.perf_counter()
                    self.points += len(json.loads(line[6:])["points"])
                    self.first = self.first or now
                    self.last = now


def served_run(points: int, viewers: int, url: str, pid: int) -> dict[str, Any]:
    """One run through the server with ``viewers`` viewers."""
    from labrf.serve.client import ServerClient

    client = ServerClient(url)
    queued = client.submit("spin-diode", "sim_bench", {"points": points})
    watchers = [Viewer(url, queued["id"]) for _ in range(viewers)]
    for w in watchers:
        w.start()
    peak = 0.0
    while (state := client.run(queued["id"]))["status"] in ("queued", "running"):
        peak = max(peak, _rss_mb(pid))
        time.sleep(0.1)
    ended = time.perf_counter()
    for w in watchers:
        w.join(60)
    assert state["status"] == "completed", state
    result = {"wall_s": float(state["wall_time_s"]), "memory_mb": peak}
    if watchers:
        rates = [w.points / (w.last - w.first) for w in watchers
                 if w.first and w.last and w.last > w.first]
        result["points_per_viewer"] = statistics.median(w.points for w in watchers)
        result["viewer_points_per_s"] = statistics.median(rates) if rates else 0.0
        result["last_point_delay_s"] = statistics.median(
            max(0.0, (w.last or ended) - ended) for w in watchers)
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    from labrf.station import load_station

    conditions = (0, 1, 10)
    with tempfile.TemporaryDirectory() as tmp, load_station(STATION) as station:
        folder = Path(tmp)
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "labrf.cli", "serve", "--station", str(STATION), "--db",
             str(folder / "served.db"), "--port", str(port)], stdout=subprocess.PIPE,
            text=True, env={**os.environ, "LABRF_SERVE_TOKEN": ""})
        try:
            assert (process.stdout.readline() if process.stdout else "").startswith(
                "labrf serve")
            url = f"http://127.0.0.1:{port}"
            local_run(station, 101, folder)  # warm-ups
            served_run(101, 0, url, process.pid)
            local: list[float] = []
            served: dict[int, list[dict[str, Any]]] = {v: [] for v in conditions}
            for _ in range(args.repeats):  # interleaved, so that drifts hit all alike
                local.append(local_run(station, args.points, folder))
                for viewers in conditions:
                    served[viewers].append(served_run(args.points, viewers, url,
                                                      process.pid))
        finally:
            process.terminate()
            process.wait(30)
    base = statistics.median(local)
    rows: dict[str, dict[str, Any]] = {"local": {"wall_s": base, "ratio": 1.0}}
    for viewers, runs in served.items():
        wall = statistics.median(r["wall_s"] for r in runs)
        row = {"wall_s": wall, "ratio": wall / base,
               "memory_mb": max(r["memory_mb"] for r in runs)}
        for key in ("viewer_points_per_s", "points_per_viewer", "last_point_delay_s"):
            if key in runs[0]:
                row[key] = statistics.median(r[key] for r in runs)
        rows[f"server, {viewers} viewers"] = row
    print(f"spin-diode, {args.points} points, sim_bench, median of {args.repeats}")
    print(f"  {'':<22}{'wall s':>8}{'ratio':>7}{'us/pt':>8}{'viewer pt/s':>13}"
          f"{'delay s':>9}{'server MB':>11}")
    for name, row in rows.items():
        print(f"  {name:<22}{row['wall_s']:8.2f}{row['ratio']:7.3f}"
              f"{1e6 * row['wall_s'] / args.points:8.1f}"
              f"{row.get('viewer_points_per_s', float('nan')):13.0f}"
              f"{row.get('last_point_delay_s', float('nan')):9.2f}"
              f"{row.get('memory_mb', float('nan')):11.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"points": args.points, "rows": rows},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
