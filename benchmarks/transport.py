"""Microseconds per query through the in-process backend, pyvisa-sim and TCP loopback.

The same exchange (``*IDN?`` to a Keithley 2182A, reply read back) through each
transport, measured in one run; ratios against the in-process backend.
Run: ``python benchmarks/transport.py [--queries N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyvisa

from labrf.clock import WallClock
from labrf.sim.bench import Bench
from labrf.sim.server import BenchServer

SECTION = {"seed": 1, "devices": {"mtj": {"kind": "mtj"}},
           "instruments": {"nv": {"model": "keithley2182a", "address": "GPIB0::7::INSTR",
                                  "input": "mtj"}}}
IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 2182A,1234567,C02 /A02"
PYVISA_SIM_YAML = f"""spec: "1.1"
devices:
  nv:
    eom:
      GPIB INSTR: {{q: "\\n", r: "\\n"}}
    dialogues:
      - q: "*IDN?"
        r: "{IDN}"
resources:
  GPIB0::7::INSTR: {{device: nv}}
"""


def per_query_us(resource: pyvisa.resources.MessageBasedResource, n: int) -> float:
    """Mean wall time of one *IDN? query in microseconds (after a warm-up)."""
    for _ in range(20):
        resource.query("*IDN?")
    start = time.perf_counter()
    for _ in range(n):
        resource.query("*IDN?")
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=2000)
    n = parser.parse_args().queries
    results: dict[str, float] = {}

    bench = Bench.from_simulation(SECTION)
    rm = pyvisa.ResourceManager(bench.visa_library)
    results["in-process backend"] = per_query_us(rm.open_resource("GPIB0::7::INSTR"), n)

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "sim.yaml"
        spec.write_text(PYVISA_SIM_YAML)
        sim_rm = pyvisa.ResourceManager(f"{spec}@sim")
        sim = sim_rm.open_resource("GPIB0::7::INSTR", read_termination="\n",
                                   write_termination="\n")
        results["pyvisa-sim (static table)"] = per_query_us(sim, n)
        sim_rm.close()

    tcp_bench = Bench.from_simulation(SECTION, clock=WallClock())
    with BenchServer(tcp_bench) as server:
        py_rm = pyvisa.ResourceManager("@py")
        sock = py_rm.open_resource(server.endpoints["nv"].resource, read_termination="\n",
                                   write_termination="\n")
        results["TCP loopback (pyvisa-py)"] = per_query_us(sock, n)
        sock.close()
        py_rm.close()

    base = results["in-process backend"]
    print(f"*IDN? round trip, {n} queries each")
    print(f"{'transport':<28}{'us/query':>10}{'ratio':>8}")
    for name, us in results.items():
        print(f"{name:<28}{us:10.1f}{us / base:8.2f}")


if __name__ == "__main__":
    main()
