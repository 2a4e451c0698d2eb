"""Training speed of the real Learn window with its views live, against training alone, in one run.

The window runs under a real X display (Xvfb is started when DISPLAY is unset), so its 3-D views
are pyqtgraph.opengl in Mesa's software OpenGL, as on a desktop without a GPU driver. Slices
alternate, so that a shared machine's load falls on both alike:
- alone: the same setup trained on this thread by deepvis.learn.loop without views, the window
  hidden (its worker waits);
- window: the window shown and training, every view of the chosen tabs live: the boundary, the
  curves, the timeline, the neuron grid or the diagram, and the 3-D pane (the data at a stage,
  or the loss landscape, which is then computed too).
For each it prints steps/s (median over slices), the window's frames drawn per second, the
worker's view updates per second, and the goal: steps/s with the views at least half of alone and
at least 1000, the views at 25 updates/s or more. On a machine shared with other work the wall
rates follow the load, so the CPU each thread got is measured too: steps per CPU-second of the
training thread (alone: this one; window: the worker), the GUI thread's CPU per frame drawn, and
the share of a core that the worker, the whole process and the X server got.

    python scripts/learn_window_speed.py [--network 3x3|6x8] [--slices 3] [--seconds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

NETWORKS = {
    "3x3": dict(data="quadrants", hidden=(3, 3), activations=("sigmoid",), init="he", features=("x1", "x2"),
                optimizer="sgd", lr=3.0),
    "6x8": dict(data="spiral", hidden=(8,) * 6, activations=("tanh",), init="xavier",
                features=("x1", "x2", "sinx1", "sinx2"), optimizer="adam", lr=0.03),
}
TABS = (("grid", "stage"), ("diagram", "landscape"))  # every view, two at a time (each pair shares a pane)


def start_xvfb() -> subprocess.Popen | None:
    """An Xvfb of 1440 x 900 when there is no display; None when there is one."""
    if os.environ.get("DISPLAY"):
        return None
    read, write = os.pipe()
    # -terminate: the server ends when its last client (this process) has gone, after Qt's own exit.
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1440x900x24", "-nolisten", "tcp",
                                "-terminate"], pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        os.environ["DISPLAY"] = f":{pipe.readline().strip()}"
    return process


def cpu_seconds(pid: int | str = "self", thread: int | None = None) -> float:
    """User + system CPU seconds of a process, or of one of its threads (Linux /proc)."""
    path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    with open(path) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pump(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=sorted(NETWORKS), default="3x3")
    parser.add_argument("--slices", type=int, default=3, help="slices of each kind")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of a slice")
    args = parser.parse_args()
    xvfb = start_xvfb()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        print(json.dumps(measure(args, xvfb.pid if xvfb is not None else None)), flush=True)
    except BaseException:
        if xvfb is not None:
            xvfb.terminate()
        raise
    return 0


def measure(args, server: int | None) -> dict:
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from deepvis.config import Config
    from deepvis.gui.main_window import MainWindow
    from deepvis.gui.theme import apply_theme
    from deepvis.learn.data import DataSettings, make_dataset
    from deepvis.learn.loop import LiveTraining, prepare_thread
    from deepvis.learn.network import NetworkSpec
    from deepvis.learn.setup import Setup
    from deepvis.learn.trainer import Trainer, TrainSettings
    from deepvis.learn.views import ViewComputer

    apply_theme(app)
    net = NETWORKS[args.network]
    spec = NetworkSpec(net["hidden"], net["activations"], net["init"], net["features"])
    setup = Setup(DataSettings(net["data"]), spec, TrainSettings(net["optimizer"], net["lr"]))
    window = MainWindow(Config().replace(device="cpu"), mode="learn", options={"learn": setup})
    window.resize(1440, 900)
    window.show()
    mode = window.current
    deadline = time.perf_counter() + 60
    while (mode.frame is None or mode.frame.views.step < 100) and time.perf_counter() < deadline:
        pump(app, 0.05)
    prepare_thread()  # the alone slices train on this thread, as the worker does on its own
    dataset = make_dataset(setup.data)
    alone = LiveTraining(Trainer(dataset, setup.spec, setup.train), ViewComputer(dataset, setup.spec, grid=48))
    alone.run_for(0.3, with_views=False)  # warm-up
    results: dict[str, list] = {"alone": []}
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    for _ in range(args.slices):
        mode.vm.set_playing(False)
        mode.deactivate()
        pump(app, 0.2)
        part = alone.run_for(args.seconds, with_views=False)
        results["alone"].append({"steps_per_s": part["steps_per_s"],
                                 "steps_per_cpu_s": part["steps"] / max(part["cpu_seconds"], 1e-9),
                                 "cpu_share": part["cpu_seconds"] / part["seconds"]})
        for view, scene in TABS:
            mode.activate()
            mode.vm.set_view(view)
            mode.vm.set_scene(scene)
            mode.vm.set_playing(True)
            pump(app, 0.5)  # settle: the tab drawn, the landscape begun
            live, worker = mode.worker.live, mode.worker.native_id
            steps, views, frames = live.trainer.step_count, live.views_computed, mode.frames_displayed
            cpu, gui, train = time.process_time(), time.thread_time(), cpu_seconds(thread=worker)
            x_cpu = cpu_seconds(server) if server else 0.0
            began = time.perf_counter()
            pump(app, args.seconds)
            took = time.perf_counter() - began
            drawn = mode.frames_displayed - frames
            trained = cpu_seconds(thread=worker) - train
            results.setdefault(f"{view}+{scene}", []).append({
                "steps_per_s": (live.trainer.step_count - steps) / took,
                "steps_per_cpu_s": (live.trainer.step_count - steps) / max(trained, 1e-9),
                "frames_per_s": drawn / took,
                "views_per_s": (live.views_computed - views) / took,
                "gui_ms_per_frame": 1000 * (time.thread_time() - gui) / max(drawn, 1),
                "worker_cpu_share": trained / took,
                "process_cpu_share": (time.process_time() - cpu) / took,
                "x_server_cpu_share": (cpu_seconds(server) - x_cpu) / took if server else None})
    mode.vm.set_playing(False)
    def median(slices, key):
        values = [s[key] for s in slices if s[key] is not None]
        return round(statistics.median(values), 3) if values else None

    alone_rate = median(results["alone"], "steps_per_s")
    alone_cpu = median(results["alone"], "steps_per_cpu_s")
    report = {"network": setup.spec.describe(), "data": dataset.name, "slices": args.slices,
              "seconds": args.seconds, "cores": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2),
              "process_cpu_share": round((time.process_time() - start_cpu) / (time.perf_counter() - start_wall), 2),
              "alone": {"steps_per_s": round(alone_rate, 1), "steps_per_cpu_s": round(alone_cpu, 1),
                        "cpu_share": median(results["alone"], "cpu_share")}}
    for name, slices in results.items():
        if name == "alone":
            continue
        rate, frames = median(slices, "steps_per_s"), median(slices, "frames_per_s")
        report[name] = {key: median(slices, key) for key in slices[0]}
        report[name].update(ratio=round(rate / alone_rate, 3),
                            cpu_ratio=round(median(slices, "steps_per_cpu_s") / alone_cpu, 3),
                            goal_met=rate >= 0.5 * alone_rate and rate >= 1000 and frames >= 25)
    window.shutdown()
    return report


if __name__ == "__main__":
    raise SystemExit(main())
