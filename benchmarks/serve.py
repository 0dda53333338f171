"""The cost of ``labrf serve`` to a measurement: the same spin-diode run (``--points``,
10,000 by default, on ``station_configs/sim_bench.yaml``) made locally with the runner,
then through a server process with no viewer, with 1 and with 10 live viewers (each a
client reading the run's server-sent stream).

Per condition, the median over ``--repeats``: the run's wall time as the runner measures
it (in the local process, or in the station's worker), the ratio to the local run's,
points per second delivered to each viewer and the last point's delay behind the run's
end, and the server's memory (its process and its workers', peak resident). A warm-up
run comes first in each place. Viewers run in this process, on the same two cores as
the server and its worker: the ratios include their share of the machine.
Run: ``python benchmarks/serve.py [--points 10000] [--repeats 3] [--json FILE]``.
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


def local_runs(points: int, repeats: int, folder: Path) -> list[float]:
    """Wall times of ``repeats`` local runs (after a warm-up), s."""
    from labrf.runner import run
    from labrf.station import load_station

    times = []
    with load_station(STATION) as station:
        run("spin-diode", station, {"points": 101}, db=folder / "local.db", progress=None)
        for _ in range(repeats):
            result = run("spin-diode", station, {"points": points}, db=folder / "local.db",
                         progress=None)
            assert result.status == "completed", result.error
            times.append(result.wall_time_s)
    return times


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


def served_runs(points: int, repeats: int, viewers: int, url: str, pid: int
                ) -> list[dict[str, Any]]:
    """``repeats`` runs through the server with ``viewers`` viewers each."""
    from labrf.serve.client import ServerClient

    client = ServerClient(url)
    out = []
    for _ in range(repeats):
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
        out.append(result)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        local = statistics.median(local_runs(args.points, args.repeats, folder))
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "labrf.cli", "serve", "--station", str(STATION), "--db",
             str(folder / "served.db"), "--port", str(port)], stdout=subprocess.PIPE,
            text=True, env={**os.environ, "LABRF_SERVE_TOKEN": ""})
        try:
            assert (process.stdout.readline() if process.stdout else "").startswith(
                "labrf serve")
            url = f"http://127.0.0.1:{port}"
            served_runs(101, 1, 0, url, process.pid)  # warm-up
            rows = {"local": {"wall_s": local, "ratio": 1.0}}
            for viewers in (0, 1, 10):
                runs = served_runs(args.points, args.repeats, viewers, url, process.pid)
                wall = statistics.median(r["wall_s"] for r in runs)
                row = {"wall_s": wall, "ratio": wall / local,
                       "memory_mb": max(r["memory_mb"] for r in runs)}
                for key in ("viewer_points_per_s", "points_per_viewer",
                            "last_point_delay_s"):
                    if key in runs[0]:
                        row[key] = statistics.median(r[key] for r in runs)
                rows[f"server, {viewers} viewers"] = row
        finally:
            process.terminate()
            process.wait(30)
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
