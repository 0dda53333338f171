"""The server's JSON API against the simulated bench and network stations served
together: what a script relies on (shapes, order, abort, live points), and every bad
request refused with a status and a message naming what is wrong."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from starlette.testclient import TestClient

from labrf.serve.app import build_app
from labrf.serve.server import LIVE_POINTS, LiveRun, Server
from tests.serve.conftest import BASE, LONG, SIM_BENCH, wait_for, wait_points


def test_both_stations_are_served_with_their_instruments_and_state(client) -> None:
    stations = {s["name"]: s for s in client.get("/api/stations").json()}
    assert set(stations) == {"sim_bench", "sim_network"}
    bench = stations["sim_bench"]
    assert bench["state"] == "idle" and bench["running"] is None and bench["simulated"]
    roles = {i["name"]: i["role"] for i in bench["instruments"]}
    assert roles["rf_source"] == "RF source" and "nanovoltmeter" in roles
    assert bench["bench"]["rf_source"].startswith("output off")


def test_procedures_describe_their_parameters_for_a_form(client) -> None:
    forms = {p["name"]: p for p in client.get("/api/procedures").json()}
    assert {"spin-diode", "emission", "chip-in-the-loop"} <= set(forms)
    params = {p["name"]: p for p in forms["spin-diode"]["parameters"]}
    assert params["points"]["kind"] == "integer"
    assert (params["points"]["minimum"], params["points"]["maximum"]) == (6, 100001)
    assert params["power"]["units"] == "dBm" and params["f_start"]["option"] == "--f-start"
    assert forms["spin-diode"]["live_plot"] == {"kind": "line", "x": "frequency",
                                                "y": ["voltage"]}
    assert forms["emission"]["live_plot"]["kind"] == "map"


@pytest.mark.parametrize(("body", "parameter", "message"), [
    ({"procedure": "spin-dioed", "station": "sim_bench"}, "procedure",
     "unknown procedure 'spin-dioed'; valid: .*spin-diode"),
    ({"procedure": "spin-diode", "station": "bench"}, "station",
     "unknown station 'bench'; valid: sim_bench, sim_network"),
    ({"procedure": "spin-diode", "station": "sim_bench", "parameters": {"pionts": 5}},
     "pionts", "no parameter 'pionts'; valid: .*points"),
    ({"procedure": "spin-diode", "station": "sim_bench", "parameters": {"points": 5}},
     "points", "points = 5 is refused.*valid: 6 to 100001"),
    ({"procedure": "spin-diode", "station": "sim_bench",
      "parameters": {"power": "-20 parsec"}}, "power", "power = '-20 parsec'"),
    ({"procedure": "spin-diode", "station": "sim_bench", "parameters": {"f_start": "nan"}},
     "f_start", "finite"),
    ({"procedure": "chip-in-the-loop", "station": "sim_network",
      "parameters": {"resume": "ture"}}, "resume", "resume = 'ture': not a yes/no value"),
    ({"procedure": "spin-diode", "station": "sim_bench", "parameters": [51]},
     "parameters", "must be an object"),
    ({"procedure": "spin-diode", "station": "sim_bench", "points": 51}, "points",
     "unknown keys points"),
    ([1, 2], "body", "a run is"),
])
def test_a_bad_submission_is_a_422_naming_what_is_wrong(client, body, parameter,
                                                        message) -> None:
    before = len(client.get("/api/runs").json())
    answer = client.post("/api/runs", json=body)
    assert answer.status_code == 422
    assert answer.json()["parameter"] == parameter
    assert __import__("re").search(message, answer.json()["detail"]), answer.json()
    assert len(client.get("/api/runs").json()) == before  # nothing was queued


def test_a_body_that_is_not_json_or_too_large_is_refused(client) -> None:
    assert client.post("/api/runs", content=b"{points").status_code == 400
    huge = json.dumps({"procedure": "spin-diode", "station": "sim_bench",
                       "parameters": {"x" * 70_000: 1}})
    answer = client.post("/api/runs", content=huge)
    assert answer.status_code == 413 and "64" not in answer.json()["detail"][:3]


def test_a_run_through_the_api_is_the_same_run_made_locally(tmp_path) -> None:
    from labrf.data import load_run, run_columns
    from labrf.runner import run
    from labrf.station import load_station

    with load_station(SIM_BENCH) as station:
        local = run("spin-diode", station, {"points": 51, "power": -20.0},
                    db=tmp_path / "local.db", progress=None)
    local_data = run_columns(load_run(tmp_path / "local.db", local.run_id))
    server = Server([SIM_BENCH], tmp_path / "served.db")
    server.start()
    try:
        server.wait_ready()
        with TestClient(build_app(server), base_url=BASE) as client:
            queued = client.post("/api/runs", json={
                "procedure": "spin-diode", "station": "sim_bench",
                "parameters": {"points": 51, "power": "-20 dBm"}})
            assert queued.status_code == 201
            state = wait_for(client, queued.json()["id"], ("completed", "failed"))
            served = client.get(f"/api/runs/{state['id']}/data").json()["columns"]
            csv = client.get(f"/api/runs/{state['id']}/data?format=csv").text
    finally:
        server.stop()
    assert state["status"] == "completed" and state["points"] == 51
    assert {"id", "status", "points", "progress"} <= set(state)
    np.testing.assert_array_equal(served["voltage"], local_data["voltage"])
    np.testing.assert_array_equal(served["frequency"], local_data["frequency"])
    assert state["fit"]["resonance"] == local.fit["resonance"]
    assert state["fit"]["half_width"] == local.fit["half_width"]
    assert csv.splitlines()[0].split(",") == ["voltage", "frequency"]
    assert len(csv.splitlines()) == 52


def test_three_runs_queued_on_one_station_complete_in_order(client) -> None:
    ids = [client.post("/api/runs", json={"procedure": "spin-diode", "station": "sim_bench",
                                          "parameters": {"points": n}}).json()["id"]
           for n in (21, 22, 23)]
    states = [wait_for(client, i, ("completed", "failed")) for i in ids]
    assert [s["status"] for s in states] == ["completed"] * 3
    assert [s["points"] for s in states] == [21, 22, 23]
    for before, after in zip(states, states[1:], strict=False):
        assert after["started"] >= before["ended"] and after["run_id"] > before["run_id"]


def test_waiting_runs_can_be_reordered_and_cancelled_and_a_running_one_aborted(
        client, server) -> None:
    def submit(points: int) -> int:
        return client.post("/api/runs", json={"procedure": "spin-diode",
                                              "station": "sim_bench",
                                              "parameters": {"points": points}}).json()["id"]

    long = submit(LONG["points"])
    a, b, c = submit(31), submit(32), submit(33)
    wait_points(client, long, 20)
    assert client.patch(f"/api/runs/{c}", json={"position": 0}).json() == {"queued": [c, a, b]}
    assert client.delete(f"/api/runs/{b}").json()["status"] == "cancelled"
    assert client.delete(f"/api/runs/{b}").status_code == 409  # it has ended
    assert client.patch(f"/api/runs/{long}", json={"position": 0}).status_code == 409
    assert client.patch(f"/api/runs/{a}", json={"place": 0}).status_code == 422
    client.delete(f"/api/runs/{long}")
    aborted = wait_for(client, long, ("aborted", "completed", "failed"))
    assert aborted["status"] == "aborted" and 20 <= aborted["points"] < LONG["points"]
    assert "aborted on request" in aborted["error"]
    first, second = (wait_for(client, i, ("completed", "failed")) for i in (c, a))
    assert first["started"] < second["started"]
    assert client.get(f"/api/runs/{b}").json()["status"] == "cancelled"
    data = client.get(f"/api/runs/{long}/data").json()["columns"]
    assert len(data["voltage"]) == aborted["points"]  # the aborted run's points are kept
    bench = {s["name"]: s for s in server.station_state()}["sim_bench"]["bench"]
    assert bench["rf_source"].startswith("output off"), bench
    assert bench["current_source"].startswith("output off"), bench
    assert bench["magnet"].startswith("output off") or " 0 A" in bench["magnet"], bench


def test_two_stations_run_at_once(client) -> None:
    bench = client.post("/api/runs", json={"procedure": "spin-diode", "station": "sim_bench",
                                           "parameters": LONG}).json()["id"]
    network = client.post("/api/runs", json={"procedure": "synapse-calibration",
                                             "station": "sim_network",
                                             "parameters": {"points": 2000}}).json()["id"]
    deadline = time.monotonic() + 60
    while True:
        states = [client.get(f"/api/runs/{i}").json() for i in (bench, network)]
        if all(s["status"] == "running" and s["points"] > 0 for s in states):
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.05)
    stations = {s["name"]: s for s in client.get("/api/stations").json()}
    assert stations["sim_bench"]["running"] == bench
    assert stations["sim_network"]["running"] == network
    for run in (bench, network):
        client.delete(f"/api/runs/{run}")
    for run in (bench, network):
        assert wait_for(client, run, ("aborted", "completed", "failed"))["status"] == "aborted"


def test_the_stream_delivers_every_point_then_ends(client) -> None:
    run = client.post("/api/runs", json={"procedure": "spin-diode", "station": "sim_bench",
                                         "parameters": {"points": 401}}).json()["id"]
    seen, events = [], []
    with client.stream("GET", f"/api/runs/{run}/stream") as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
                events.append(event)
            elif line.startswith("data: ") and event == "points":
                seen += [i for i, _row in json.loads(line[6:])["points"]]
    assert seen == list(range(401)) and events[-1] == "end", events
    assert "status" in events


def test_live_points_are_thinned_past_the_limit_but_stay_ordered() -> None:
    live = LiveRun()
    for start in range(0, 3 * LIVE_POINTS, 1000):
        live.add([{"v": float(i)} for i in range(start, start + 1000)])
    assert live.count == 3 * LIVE_POINTS and len(live.rows) <= LIVE_POINTS
    indices = [i for i, _ in live.rows]
    assert indices == sorted(indices) and indices[0] == 0 and live.stride == 4
    assert all(i > 30_000 for i, _ in live.since(30_000))


def test_runs_that_do_not_exist_or_have_no_data_are_404(client) -> None:
    assert client.get("/api/runs/9999").status_code == 404
    assert client.delete("/api/runs/9999").status_code == 404
    assert client.get("/api/runs/9999/data").status_code == 404
    assert client.get("/api/runs/9999/stream").status_code == 404
    assert client.get("/api/runs/1/data?format=xml").status_code == 422


def test_the_openapi_description_names_every_route(client) -> None:
    schema = client.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/stations", "/api/procedures", "/api/runs", "/api/runs/{run}",
            "/api/runs/{run}/data", "/api/runs/{run}/stream"} <= set(schema["paths"])
    assert set(schema["paths"]["/api/runs/{run}"]) == {"get", "delete", "patch"}


def test_with_a_token_every_api_call_and_the_stream_need_it(server) -> None:
    token = "t0ken-for-the-lab-bench"
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(build_app(server, token, loopback=False),
                    base_url="http://10.0.0.5:8765") as c:
        assert c.get("/api/stations").status_code == 401
        assert c.post("/api/runs", json={}).status_code == 401
        assert c.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/stations", headers=auth).status_code == 200
        run = c.post("/api/runs", headers=auth, json={
            "procedure": "spin-diode", "station": "sim_bench",
            "parameters": {"points": 11}}).json()["id"]
        assert c.get(f"/api/runs/{run}/stream").status_code == 401
        with c.stream("GET", f"/api/runs/{run}/stream?token={token}") as stream:
            assert stream.status_code == 200
            assert "event: end" in "\n".join(stream.iter_lines())
        assert c.get("/").status_code == 200  # the page holds no data: it asks for the token


def test_cross_origin_and_foreign_host_requests_are_refused(client, server) -> None:
    evil = client.post("/api/runs", headers={"Origin": "http://evil.example"},
                       json={"procedure": "spin-diode", "station": "sim_bench"})
    assert evil.status_code == 403 and "cross-origin" in evil.json()["detail"]
    assert client.get("/api/runs", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    same = client.get("/api/stations", headers={"Origin": BASE})
    assert same.status_code == 200
    with TestClient(build_app(server), base_url="http://evil.example") as rebound:
        refused = rebound.get("/api/stations")  # DNS rebinding: a name that is not ours
        assert refused.status_code == 403 and "localhost" in refused.json()["detail"]


def test_the_page_and_its_assets_come_from_labrf(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "labrf serve" in page.text
    for asset in ("/static/labrf.js", "/static/labrf.css"):
        answer = client.get(asset)
        assert answer.status_code == 200
        assert "http://" not in answer.text and "https://" not in answer.text  # no CDN
    assert "http" not in page.text


def test_an_emission_run_streams_the_spectra_its_live_map_draws(client) -> None:
    forms = {p["name"]: p for p in client.get("/api/procedures").json()}
    view = forms["emission"]["live_plot"]
    run = client.post("/api/runs", json={"procedure": "emission", "station": "sim_bench",
                                         "parameters": {"bias_points": 6}}).json()["id"]
    rows = []
    with client.stream("GET", f"/api/runs/{run}/stream") as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "points":
                rows += [row for _i, row in json.loads(line[6:])["points"]]
    assert len(rows) == 6
    for row in rows:  # the map's columns: a spectrum per bias, on its frequency axis
        assert isinstance(row[view["z"]], list) and len(row[view["z"]]) == len(row[view["x"]])
        assert isinstance(row[view["y"]], float)
    assert wait_for(client, run, ("completed", "failed"))["status"] == "completed"
