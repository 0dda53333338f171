"""The ``labrf`` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from labrf.data import DEFAULT_DB
from labrf.errors import LabrfError, UsageError
from labrf.export import EXPORT_FORMATS
from labrf.paths import writable_file
from labrf.signals import describe, exit_code, stop_signals


def _cmd_demo(args: argparse.Namespace) -> int:
    from labrf.demo import run_demo

    run_demo(Path(args.station), Path(args.db), out=sys.stdout,
             network=Path(args.network) if args.network else None)
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
            print(f"{endpoint.name} {endpoint.resource} termination "
                  f"{endpoint.termination}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _cmd_serve_runs(args: argparse.Namespace) -> int:
    """``labrf serve``: the measurement server (web page, API, run queue)."""
    import socket

    from labrf.serve.security import TOKEN_ENV, is_loopback

    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and token is None:
        raise LabrfError(f"refusing to serve on {args.host} without a token: anyone who "
                         f"reaches it could drive the bench; pass --token TOKEN or set "
                         f"{TOKEN_ENV} (or bind 127.0.0.1)")
    if token is not None and len(token) < 16:
        raise UsageError("a token needs at least 16 characters (e.g. python -c 'import "
                         "secrets; print(secrets.token_urlsafe())')")
    import uvicorn

    from labrf.serve.app import build_app
    from labrf.serve.server import Server

    server = Server(args.station, args.db)
    family = socket.AF_INET6 if ":" in args.host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host.strip("[]"), args.port))
    except OSError as exc:
        raise LabrfError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    sock.listen(128)  # connections wait in the backlog until the web server accepts them
    port = sock.getsockname()[1]
    server.start()
    config = uvicorn.Config(build_app(server, token, is_loopback(args.host)),
                            log_level="warning", timeout_graceful_shutdown=2)
    web = uvicorn.Server(config)
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    print(f"labrf serve: http://{host}:{port}/ stations {', '.join(server.stations)}; "
          f"database {server.db}", flush=True)
    try:
        web.run(sockets=[sock])
    finally:
        print("labrf serve: stopping (a running run is aborted, its bench made safe)",
              file=sys.stderr, flush=True)
        server.stop()
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


def _cmd_station_safe(args: argparse.Namespace) -> int:
    from labrf.station import make_safe

    rows = make_safe(args.station_file)
    width = max(len(r.name) for r in rows)
    for r in rows:
        before = f"was: {r.before}; " if r.before else ""
        now = r.after if not r.ok else (f"now: {r.after}" if r.after else "now: safe")
        print(f"{r.name.ljust(width)}  {before}{now}")
    failed = [r.name for r in rows if not r.ok]
    if failed:
        print(f"labrf: {len(failed)} of {len(rows)} instruments could not be made safe: "
              f"{', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(rows)} instruments in their safe state")
    return 0


def _cmd_campaign_check(args: argparse.Namespace) -> int:
    from labrf.campaign import Reference, read_campaign

    campaign = read_campaign(args.campaign_file)
    print(f"campaign {campaign.name}: station {campaign.station.file}, switch "
          f"'{campaign.switch}', {len(campaign.devices)} devices x {len(campaign.steps)} "
          f"procedures = {campaign.runs} runs; on failure: {campaign.on_failure}"
          + (f" ({campaign.retries} retries)" if campaign.on_failure == "retry" else ""))
    for step in campaign.steps:
        values = [f"{k}={{{v.procedure}.{v.key}}}{v.offset:+g}" if isinstance(v, Reference)
                  else f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                  for k, v in step.parameters.items()]
        accept = [f"{k} in {step.accept_text[k]}" for k in step.accept]
        print(f"  {step.procedure}: {', '.join(values) or 'defaults'}; accept: "
              f"{', '.join(accept) or 'any fit'}")
    for device in campaign.devices.values():
        print(f"  {device.name}: channels {device.channels}, position "
              f"{device.position[0]},{device.position[1]}")
    return 0


def _cmd_campaign_run(args: argparse.Namespace) -> int:
    from labrf.campaign import read_campaign
    from labrf.campaign_run import run_campaign

    result = run_campaign(read_campaign(args.campaign_file), args.db, resume=args.resume)
    if args.json:
        print(result.json_line())
    else:
        print(f"campaign {result.campaign} ({result.name}) {result.status}: "
              f"{len(result.passed)} passed, {len(result.failed)} failed of "
              f"{len(result.devices)} devices; {result.runs_made} runs made in "
              f"{result.wall_time_s:.0f} s; db {result.db}")
        for name in result.failed:
            print(f"  {name}: {result.verdicts[name].reason}")
        print(f"  report: labrf campaign report {result.campaign} --db {args.db}")
    if result.error:
        print(f"labrf: campaign {result.status}: {result.error}", file=sys.stderr)
    if result.status == "aborted":
        return 128 + signal.Signals[result.signal or "SIGINT"].value
    return 0 if result.status == "completed" else 1


def _cmd_campaign_report(args: argparse.Namespace) -> int:
    from labrf.campaign_report import campaign_table, write_report

    files = write_report(args.db, args.campaign, Path(args.out) if args.out else None,
                         args.quantity)
    report = campaign_table(args.db, args.campaign)
    table = report.table
    print(f"campaign {report.campaign} ({report.name}), {report.status}: {len(table)} "
          f"devices, {int((table['status'] == 'pass').sum())} passed")
    for _, row in table[table["status"] != "pass"].iterrows():
        print(f"  {row['device']}: {row['status']}: {row['reason']}")
    for kind, path in files.items():
        print(f"{kind}: {path}")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from labrf.study import read_study, run_study

    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give at least 1")
    study = read_study(args.study_file)
    result = run_study(study, args.db, dask=args.dask, workers=args.workers,
                       serial=args.serial, out=Path(args.out) if args.out else None)
    if args.json:
        print(result.json_line())
    else:
        where = "serially" if args.serial else f"on {result.workers} Dask workers"
        print(f"study {result.study} ({result.name}): {len(result.table)} points {where} "
              f"in {result.wall_time_s:.1f} s")
        for kind, path in result.files.items():
            print(f"{kind}: {path}")
    return 0 if (result.table["status"] == "completed").all() else 1


def _parameter_option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _common_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station", help="station file (required)")
    parser.add_argument("--db", default=str(DEFAULT_DB), help="database (default: %(default)s)")
    parser.add_argument("--sample", default="sample", help="sample name")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    parser.add_argument("--server", help="submit to a labrf serve at this URL and follow "
                        "the run (--station: the server's station name)")
    parser.add_argument("--token", help="the server's token (default: $LABRF_SERVE_TOKEN)")


def _run_on_server(args: argparse.Namespace, given: dict[str, Any],
                   params: dict[str, Any]) -> int:
    """``labrf run ... --server URL``: submitted, followed, reported like a local run."""
    from labrf.serve.client import ServerClient

    client = ServerClient(args.server, args.token)
    station = Path(args.station).stem if args.station.endswith((".yaml", ".yml")) \
        else args.station
    values = {name: text for name, text in given.items() if text is not None and name in params}
    queued = client.submit(args.procedure, station, values, args.sample)
    if not args.json:
        print(f"queued as run {queued['id']} on {args.server} ({station})", file=sys.stderr)
    state = client.follow(queued["id"], None if args.json else sys.stderr)
    if args.json:
        print(json.dumps(state))
    else:
        print(f"run {state['id']} {state['status']}: {state['points']} points "
              f"(dataset run {state.get('run_id')})")
        for key, value in (state.get("fit") or {}).items():
            if not isinstance(value, list | dict):
                print(f"  {key}: {value}")
        if state.get("error"):
            print(f"  error: {state['error']}", file=sys.stderr)
    if state["status"] == "aborted":
        return 128 + signal.SIGINT.value
    return 0 if state["status"] == "completed" else 1


def _cmd_run(args: argparse.Namespace, rest: list[str]) -> int:
    from labrf.data import use_database
    from labrf.runner import configured, parse_value, procedure_class, procedures, run
    from labrf.station import load_station

    if args.procedure is None:
        if any(a in ("-h", "--help") for a in rest):
            usage = argparse.ArgumentParser(
                prog="labrf run", description="run a procedure on a station; its "
                "parameters are options (labrf run PROCEDURE --help lists them)",
                epilog="procedures: " + ", ".join(sorted(procedures())))
            usage.add_argument("procedure")
            _common_run_options(usage)
            usage.print_help()
            return 0
        raise UsageError("labrf run needs a procedure; valid: "
                         + ", ".join(sorted(procedures())) + " (labrf run --help)")
    proc_cls = procedure_class(args.procedure)
    params = proc_cls().parameter_objects()
    sub = argparse.ArgumentParser(prog=f"labrf run {args.procedure}", add_help=True)
    _common_run_options(sub)
    for name, parameter in params.items():
        unit = f" [{parameter.units}]" if getattr(parameter, "units", None) else ""
        sub.add_argument(_parameter_option(name), dest=name, metavar="VALUE",
                         help=f"{parameter.name}{unit} (default: {parameter.default})")
    given = vars(sub.parse_args(rest))
    if not args.station:
        raise UsageError(f"labrf run {args.procedure} needs --station FILE (e.g. "
                         f"station_configs/sim_bench.yaml)")
    if args.server:
        return _run_on_server(args, given, params)
    values: dict[str, Any] = {}
    for name, text in given.items():
        if text is None or name not in params:
            continue
        try:
            values[name] = parse_value(params[name], text)
        except (LabrfError, ValueError) as exc:
            raise UsageError(f"{_parameter_option(name)} {text!r}: {exc}") from None
        if isinstance(values[name], float) and not math.isfinite(values[name]):
            raise UsageError(f"{_parameter_option(name)} {text!r}: must be a finite number "
                             f"({params[name].name})")
    configured(args.procedure, values)  # a refused value stops here, before connecting
    use_database(args.db)  # so does a database that cannot be used
    with load_station(args.station) as station:
        result = run(args.procedure, station, values, db=args.db, sample=args.sample,
                     progress=None if args.json else sys.stderr)
    if args.json:
        print(result.json_line())
    else:
        print(f"run {result.run_id} {result.status}: {result.points} points, "
              f"{result.instrument_time_s:.1f} s of instrument time, db {result.db}")
        for key, value in result.fit.items():
            if not isinstance(value, list | dict):
                print(f"  {key}: {value}")
        if result.plot:
            print(f"  plot: {result.plot}")
        if result.extra.get("applied"):
            print(f"  {result.extra['applied']}")
        if result.error:
            print(f"  error: {result.error}", file=sys.stderr)
    if result.status == "aborted":
        return 128 + signal.Signals[result.signal or "SIGINT"].value
    return 0 if result.status == "completed" else 1


def _cmd_runs(args: argparse.Namespace) -> int:
    if args.server:
        from labrf.serve.client import ServerClient, print_runs

        print_runs(ServerClient(args.server, args.token).call("GET", "/api/runs"))
        return 0
    from labrf.data import list_runs

    runs = list_runs(args.db)
    print(f"{'run':>4}  {'procedure':<22}{'sample':<14}{'status':<12}{'points':>7}  started")
    for r in runs:
        print(f"{r.run_id:>4}  {r.procedure:<22}{r.sample:<14}{r.status:<12}{r.points:>7}  "
              f"{r.started}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from labrf.data import load_run, status_of

    ds = load_run(args.db, args.run)
    meta = ds.metadata
    print(f"run {ds.run_id}: {meta.get('labrf_procedure', ds.name)} on "
          f"{ds.sample_name}, {status_of(meta)}, {ds.number_of_results} results, "
          f"started {ds.run_timestamp()}")
    print(f"  station: {meta.get('labrf_station_file', '?')}, labrf "
          f"{meta.get('labrf_version', '?')}, instrument time "
          f"{float(meta.get('labrf_instrument_time_s', 'nan')):.1f} s")
    print("  parameters:")
    for key, value in json.loads(meta.get("labrf_parameters", "{}")).items():
        print(f"    {key}: {value}")
    fit = json.loads(meta.get("labrf_fit", "{}"))
    if fit:
        print("  fit:")
        for key, value in fit.items():
            if not isinstance(value, list | dict):
                print(f"    {key}: {value}")
    if meta.get("labrf_plot"):
        print(f"  plot: {meta['labrf_plot']}")
    if meta.get("labrf_error"):
        print(f"  error: {meta['labrf_error']}")
    instruments = (ds.snapshot or {}).get("station", {}).get("instruments", {})
    models = [f"{name} ({entry.get('model', '?')})" for name, entry in instruments.items()]
    print(f"  snapshot: {', '.join(models) or 'none'}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from labrf.data import load_run
    from labrf.export import export_run

    for path in export_run(load_run(args.db, args.run), args.format,
                           Path(args.output) if args.output else None):
        print(path)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from labrf.data import load_run, run_columns
    from labrf.runner import procedure_class

    ds = load_run(args.db, args.run)
    proc = procedure_class(ds.metadata.get("labrf_procedure", ds.name))()
    params = json.loads(ds.metadata.get("labrf_parameters", "{}"))
    proc.set_parameters({k: v for k, v in params.items() if k in proc.parameter_objects()})
    fit = json.loads(ds.metadata.get("labrf_fit", "{}"))
    path = Path(args.output) if args.output else \
        Path(ds.path_to_db).parent / "plots" / f"run_{ds.run_id}_{proc.name}.png"
    if path.is_dir():
        path = path / f"run_{ds.run_id}_{proc.name}.png"
    written = proc.plot(run_columns(ds), fit if "error" not in fit else {},
                        writable_file(path, "--output"))
    print(written if written is not None else f"{proc.name} has no plot")
    return 0


def _finite(text: str) -> float:
    """A finite number (for argparse types); inf and nan are refused."""
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _whole(low: int, high: int, what: str, refused: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``; ``what`` it is and the
    ``refused`` message name it otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: {refused}")
        return value

    return parse


#: Epochs, batch sizes: whole numbers >= 1.
_at_least_one = _whole(1, sys.maxsize, "a whole number", "must be 1 or more")
#: A TCP port, 0 meaning any free one.
_port = _whole(0, 65535, "a port number", "a port is 0 (any free one) to 65535")


def _positive(text: str) -> float:
    """A finite number > 0 (for argparse types: learning rates)."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be > 0")
    return value


def _layer_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split("-") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: hidden layer sizes are whole numbers "
                                         "joined by '-', e.g. 128 or 64-32") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every hidden layer needs >= 1 neuron")
    return sizes


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, default=str))


def _cmd_twin_train(args: argparse.Namespace) -> int:
    from labrf.training.twin_run import TwinSettings, train_command

    settings = TwinSettings(task=args.task, data=args.data, hidden=args.hidden,
                            epochs=args.epochs, seed=args.seed, spread=args.spread,
                            path_imbalance_db=args.path_imbalance, batch=args.batch,
                            lr=args.lr, encoding=args.encoding, out=args.out)
    summary = train_command(settings, args.db, out=sys.stderr if args.json else sys.stdout)
    if not args.json:
        if summary.get("status") == "completed":
            print(f"run {summary['run']}: {summary['task']} twin "
                  f"{'-'.join(map(str, summary['layers']))}: test "
                  f"{100 * summary['test_accuracy']:.2f} %, train "
                  f"{100 * summary['train_accuracy']:.2f} %, "
                  f"{summary['seconds_per_epoch']:.2f} s/epoch, peak "
                  f"{summary['peak_memory_mb']:.0f} MB; network {summary['network_file']}")
        else:
            print(f"run {summary['run']}: {summary['status']} {summary.get('error', '')}")
    _print_summary(summary, args.json)
    return 0 if summary.get("status") == "completed" else int(summary.get("exit_code", 1))


def _cmd_twin_evaluate(args: argparse.Namespace) -> int:
    from labrf.training.twin_run import evaluate_command

    summary = evaluate_command(args.network_file, args.task, args.data, args.spread,
                               args.path_imbalance, args.seed,
                               out=None if args.json else sys.stdout)
    _print_summary(summary, args.json)
    return 0


def _add_twin(sub: Any) -> None:
    from labrf.training.datasets import ENCODINGS, TASK_NAMES

    twin = sub.add_parser("twin", help="offline twins: train and evaluate a network model "
                                       "of any size on a task")
    twin_sub = twin.add_subparsers(dest="twin_command", required=True)
    train = twin_sub.add_parser("train", help="train a twin; recorded as a run, saved as "
                                              "a network file")
    evaluate = twin_sub.add_parser("evaluate", help="accuracy of a network file's knobs, "
                                                    "on its own network or on a chip with "
                                                    "spread and path imbalance")
    evaluate.add_argument("network_file")
    for p in (train, evaluate):
        p.add_argument("--task", required=True, choices=TASK_NAMES)
        p.add_argument("--data", help="data file (drone: RadioSpin_D62_RF_fingerprinting.h5)")
        p.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
        p.add_argument("--spread", type=_finite, default=0.0,
                       help="device spread, relative (0.02 = 2 %%; default: %(default)s)")
        p.add_argument("--path-imbalance", type=_finite, default=0.0,
                       help="RF-path imbalance, dB (default: %(default)s)")
        p.add_argument("--json", action="store_true", help="print one JSON line at the end")
    train.add_argument("--hidden", type=_layer_sizes,
                       help="hidden layer sizes, e.g. 128 or 64-32 (default: drone 128, "
                            "digits 32, two-input tasks 2)")
    train.add_argument("--epochs", type=_at_least_one, default=40,
                       help="(default: %(default)s)")
    train.add_argument("--batch", type=_at_least_one, default=64,
                       help="examples per step (default: %(default)s)")
    train.add_argument("--lr", type=_positive, default=0.05,
                       help="Adam step, mA (default: %(default)s)")
    train.add_argument("--encoding", choices=ENCODINGS,
                       help="data value to feature: power (itself) or amplitude (its square "
                            "root); default: amplitude for drone, power otherwise")
    train.add_argument("--out", help="network file to write (default: beside the database)")
    train.add_argument("--db", default=str(DEFAULT_DB), help="database (default: %(default)s)")
    train.set_defaults(func=_cmd_twin_train)
    evaluate.set_defaults(func=_cmd_twin_evaluate)


def build_parser() -> argparse.ArgumentParser:
    import labrf

    parser = argparse.ArgumentParser(prog="labrf", description=__doc__)
    parser.add_argument("--version", action="version", version=f"labrf {labrf.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="spin-diode sweep and emission curve on the simulated "
                                       "bench, fitted and compared with the simulator's "
                                       "truth; then chip-in-the-loop training of the "
                                       "simulated network bench on XOR")
    demo.add_argument("--station", default="station_configs/sim_bench.yaml",
                      help="station file (default: %(default)s)")
    demo.add_argument("--network", default="station_configs/sim_network.yaml",
                      help="network bench station file, '' to skip the training "
                           "(default: %(default)s)")
    demo.add_argument("--db", default="data/demo.db", help="database (default: %(default)s)")
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
    serve.add_argument("--port", type=_port, default=0,
                       help="first port (consecutive per instrument); default: any free")
    serve.set_defaults(func=_cmd_serve)
    run_p = sub.add_parser("run", help="run a procedure on a station; its parameters are "
                                       "options (labrf run PROCEDURE --help lists them)",
                           add_help=False)
    run_p.add_argument("procedure", nargs="?", help="procedure name (labrf run --help lists "
                                                    "them)")
    _common_run_options(run_p)
    run_p.set_defaults(func=_cmd_run, takes_rest=True)
    for command, helptext, func in (("runs", "list the runs of a database", _cmd_runs),
                                    ("show", "a run's parameters, status, fit, snapshot",
                                     _cmd_show),
                                    ("export", "write a run as csv, netcdf or parquet",
                                     _cmd_export),
                                    ("plot", "draw a run's plot again", _cmd_plot)):
        p = sub.add_parser(command, help=helptext)
        if command != "runs":
            p.add_argument("run", type=int)
        p.add_argument("--db", default=str(DEFAULT_DB), help="database (default: %(default)s)")
        if command == "runs":
            p.add_argument("--server", help="list the queue of a labrf serve at this URL")
            p.add_argument("--token", help="the server's token (default: "
                           "$LABRF_SERVE_TOKEN)")
        if command == "export":
            p.add_argument("--format", choices=EXPORT_FORMATS, default="csv")
        if command in ("export", "plot"):
            p.add_argument("--output", "-o", help="file to write")
        p.set_defaults(func=func)
    serve_runs = sub.add_parser("serve", help="the measurement server: a run queue per "
                                "station, a JSON API and a live web page")
    serve_runs.add_argument("--station", action="append", required=True, metavar="FILE",
                            help="a station it owns (repeat for more; named by the file's "
                                 "stem)")
    serve_runs.add_argument("--db", default=str(DEFAULT_DB),
                            help="database (default: %(default)s)")
    serve_runs.add_argument("--host", default="127.0.0.1",
                            help="address to bind (default: %(default)s; any other than "
                                 "loopback needs a token)")
    serve_runs.add_argument("--port", type=_port, default=8765,
                            help="port (default: %(default)s; 0: any free)")
    serve_runs.add_argument("--token", help="token every API call must carry (default: "
                                            "$LABRF_SERVE_TOKEN)")
    serve_runs.set_defaults(func=_cmd_serve_runs)
    station = sub.add_parser("station", help="station files")
    station_sub = station.add_subparsers(dest="station_command", required=True)
    check = station_sub.add_parser("check", help="connect every instrument of a station "
                                                 "file and print what answers")
    check.add_argument("station_file")
    check.set_defaults(func=_cmd_station_check)
    safe = station_sub.add_parser("safe", help="connect every instrument of a station file "
                                               "and put it in its safe state (RF off, "
                                               "currents and fields ramped to zero)")
    safe.add_argument("station_file")
    safe.set_defaults(func=_cmd_station_safe)
    campaign = sub.add_parser("campaign", help="campaigns over the devices of a chip")
    campaign_sub = campaign.add_subparsers(dest="campaign_command", required=True)
    check_campaign = campaign_sub.add_parser("check", help="validate a campaign file and "
                                                           "its station; print the plan")
    check_campaign.add_argument("campaign_file")
    check_campaign.set_defaults(func=_cmd_campaign_check)
    run_campaign = campaign_sub.add_parser(
        "run", help="measure every device of a campaign file, one at a time, each "
                    "measurement a run tagged with the campaign and the device")
    run_campaign.add_argument("campaign_file")
    run_campaign.add_argument("--resume", action="store_true",
                              help="continue the latest campaign of this name in the "
                                   "database: make only the runs it is missing")
    run_campaign.add_argument("--db", default=str(DEFAULT_DB),
                              help="database (default: %(default)s)")
    run_campaign.add_argument("--json", action="store_true",
                              help="print one JSON line at the end")
    run_campaign.set_defaults(func=_cmd_campaign_run)
    report = campaign_sub.add_parser(
        "report", help="a campaign's table (CSV, parquet), chip map, histograms and one "
                       "self-contained HTML page")
    report.add_argument("campaign", type=int, help="the campaign's id (labrf campaign run "
                                                   "prints it)")
    report.add_argument("--db", default=str(DEFAULT_DB), help="database (default: %(default)s)")
    report.add_argument("--out", help="folder to write (default: campaign_ID beside the "
                                      "database)")
    report.add_argument("--quantity", help="fit value colouring the chip map, e.g. "
                                           "spin-diode.resonance (default: the first "
                                           "accepted one)")
    report.set_defaults(func=_cmd_campaign_report)
    study = sub.add_parser("study", help="many simulated chips, each a chip-in-the-loop "
                                         "training (or any procedure) or a campaign, on a "
                                         "Dask cluster; one table")
    study.add_argument("study_file")
    study.add_argument("--dask", default="local",
                       help="'local' (a LocalCluster, the default) or a scheduler address "
                            "such as tcp://10.0.0.5:8786")
    study.add_argument("--workers", type=int, default=2,
                       help="workers of the local cluster (default: %(default)s)")
    study.add_argument("--serial", action="store_true",
                       help="run every point in this process, one after the other")
    study.add_argument("--db", default=str(DEFAULT_DB), help="database (default: %(default)s)")
    study.add_argument("--out", help="folder for study.csv and study.parquet (default: "
                                     "study_ID beside the database)")
    study.add_argument("--json", action="store_true", help="print one JSON line at the end")
    study.set_defaults(func=_cmd_study)
    _add_twin(sub)
    return parser


class _Terminal(logging.Filter):
    """What reaches the terminal: warnings and errors, but not QCoDeS's own records
    (those go to the log file beside the database)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("qcodes")


def configure_logging(db: str | None) -> None:
    """Warnings on stderr as ``labrf: warning: ...``; with a database, every record from
    INFO up (QCoDeS's included) in ``labrf.log`` beside it. Replaces the handlers an
    earlier call installed."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "labrf", False)]:
        root.removeHandler(handler)
        handler.close()
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setLevel(logging.WARNING)
    terminal.addFilter(_Terminal())
    terminal.setFormatter(logging.Formatter("labrf: %(levelname)s: %(message)s"))
    handlers: list[logging.Handler] = [terminal]
    if db:
        path = Path(db).expanduser().resolve().parent
        with contextlib.suppress(OSError):  # an unwritable folder: no log file
            logfile = logging.FileHandler(path / "labrf.log")
            logfile.setLevel(logging.INFO)
            logfile.setFormatter(logging.Formatter(
                "%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s"))
            handlers.append(logfile)
    for handler in handlers:
        handler.labrf = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    if rest and not getattr(args, "takes_rest", False):
        build_parser().parse_args(argv)  # reports the unknown arguments and exits
    configure_logging(getattr(args, "db", None))
    try:
        with stop_signals():
            if getattr(args, "takes_rest", False):
                return args.func(args, rest)
            return args.func(args)
    except KeyboardInterrupt as exc:  # a stop signal outside a run: nothing left on
        print(f"labrf: {describe(exc)}", file=sys.stderr)
        return exit_code(exc)
    except UsageError as exc:  # the command asked for something that does not exist
        print(f"labrf: error: {exc}", file=sys.stderr)
        return 2
    except LabrfError as exc:  # a file, database, instrument or run that failed
        print(f"labrf: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
