"""The ``labrf`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from labrf.errors import LabrfError


def _cmd_demo(args: argparse.Namespace) -> int:
    from labrf.demo import run_demo

    run_demo(Path(args.station), out=sys.stdout)
    return 0


def _cmd_describe(args: argparse.Namespace) -> int:
    from labrf.sim.bench import Bench

    bench = Bench.from_station_file(args.station_file)
    print(json.dumps(bench.describe(), indent=2))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from labrf.clock import WallClock
    from labrf.sim.bench import Bench
    from labrf.sim.server import BenchServer

    bench = Bench.from_station_file(args.station_file, clock=WallClock(args.scale))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with BenchServer(bench, {name: args.port + i for i, name in enumerate(bench.emulators)}
                     if args.port else None) as server:
        for endpoint in server.endpoints.values():
            print(f"{endpoint.name} {endpoint.resource}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _cmd_station_check(args: argparse.Namespace) -> int:
    from labrf.station import check_station

    rows = check_station(args.station_file)
    header = ("name", "role", "model", "*IDN?", "address", "state")
    table = [header] + [(r.name, r.role, r.model, r.idn, r.address, r.state) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True))
              + "  " + row[-1])
    failed = [r.name for r in rows if not r.ok]
    if failed:
        print(f"labrf: {len(failed)} of {len(rows)} instruments failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    print(f"all {len(rows)} instruments answered")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labrf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="spin-diode sweep on the simulated bench, fitted and "
                                       "compared with the simulator's truth")
    demo.add_argument("--station", default="station_configs/sim_bench.yaml",
                      help="station file (default: %(default)s)")
    demo.set_defaults(func=_cmd_demo)
    sim = sub.add_parser("sim", help="the simulated bench")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    describe = sim_sub.add_parser("describe", help="print the simulated devices' true "
                                                   "parameters as JSON (SI units)")
    describe.add_argument("station_file")
    describe.set_defaults(func=_cmd_describe)
    serve = sim_sub.add_parser("serve", help="serve each instrument on a loopback TCP port")
    serve.add_argument("station_file")
    serve.add_argument("--scale", type=float, default=1.0,
                       help="instrument seconds per wall second (default: %(default)s)")
    serve.add_argument("--port", type=int, default=0,
                       help="first port (consecutive per instrument); default: any free")
    serve.set_defaults(func=_cmd_serve)
    station = sub.add_parser("station", help="station files")
    station_sub = station.add_subparsers(dest="station_command", required=True)
    check = station_sub.add_parser("check", help="connect every instrument of a station "
                                                 "file and print what answers")
    check.add_argument("station_file")
    check.set_defaults(func=_cmd_station_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LabrfError as exc:
        print(f"labrf: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
