"""Drive the real window hard: switch modes and start and stop their jobs quickly, for N seconds.

Run by tests/test_stress.py on an Xvfb display (QT_QPA_PLATFORM=xcb, so that Learn's OpenGL
views are real), with faulthandler on: a crash prints every thread's stack to stderr. Prints one
JSON line with what it did and exits 0 when the window shut down cleanly.

    python tests/support/stress_modes.py SECONDS OUT_DIR [SEED]
"""

from __future__ import annotations

import faulthandler
import json
import random
import sys
import time
from pathlib import Path

faulthandler.enable()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(seconds: float, out: Path, seed: int) -> int:
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from deepvis.config import Config
    from deepvis.gui.main_window import MainWindow
    from deepvis.sources import VideoSource
    from support.windows import tiny_model, write_video

    config = Config().replace(store=str(out / "units"), device="cpu", auto_unit_images=False)
    source = VideoSource(write_video(out / "tiny.mp4"), fps=30).start()
    window = MainWindow(config, tiny_model(), source)
    window.resize(1440, 900)
    window.show()
    rng = random.Random(seed)

    def pump(duration: float) -> None:
        end = time.monotonic() + duration
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def learn(mode):
        choice = rng.random()
        if choice < 0.2:
            mode.controls.data_combo.setCurrentText(rng.choice(["spiral", "multigauss"]))
            layers = mode.controls.layers
            rng.choice([layers.add_layer, layers.remove_layer,
                        lambda: layers.widths and layers.change_width(0, rng.choice([-1, 4]))])()
            mode.reset()
        else:
            mode.handle_key(rng.choice(["Space", "s", "r", "g", "Left", "Right", "Up", "Down", "n", "l", "v", "d"]))

    def digits(mode):
        mode.epochs.setValue(1)
        mode.hidden.setValue(rng.choice([4, 12, 30]))
        rng.choice([mode.train, mode.train, mode.sweep, mode.stop, mode.compare, mode.cnn, mode.stop])()

    def dream(mode):
        mode.steps.setValue(3)
        mode.octaves.setValue(2)
        mode.seeds.setValue(2)
        mode.class_steps.setValue(8)
        mode.class_name.setText(rng.choice(["class 3", "clas 3", "7"]))
        rng.choice([mode.dream_from_live, mode.stop, mode.start_classes, mode.stop])()

    def tabular(mode):
        mode.epochs_box.setValue(rng.choice([5, 40]))
        vm = mode.vm
        rng.choice([vm.train, vm.stop_training, lambda: vm.set_method(rng.choice(["ig", "ablation"])),
                    lambda: vm.choose_data(rng.choice(["wine", "iris"]))])()

    def weights(mode):
        mode.handle_key(rng.choice(["Up", "Down", "Left", "Right"]))

    def live(mode):
        mode.handle_key(rng.choice(["l", "j", "o", "u", "b", "m", "f", "f", "a", "a", "z", "z", "0"]))

    actions = {"live": live, "learn": learn, "digits": digits, "dream": dream, "tabular": tabular,
               "weights": weights}
    counts = {name: 0 for name in actions}
    start = time.monotonic()
    pump(1.0)
    while time.monotonic() - start < seconds:
        name = rng.choice(list(actions))
        mode = window.show_mode(name)
        for _ in range(rng.randint(1, 4)):
            actions[name](mode)
            counts[name] += 1
            pump(rng.choice([0.0, 0.05, 0.2, 0.6]))
    window.shutdown()
    window.close()
    pump(0.2)
    print(json.dumps({"seconds": round(time.monotonic() - start, 1), "actions": counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0))
