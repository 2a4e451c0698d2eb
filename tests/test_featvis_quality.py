"""scripts/featvis_quality.py on a few steps: its report and table, a contact sheet of every image,
and an interrupted run resuming where it stopped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from deepvis.sources import read_image

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SQUEEZENET = Path(__file__).resolve().parents[2] / "shared" / "weights" / "squeezenet1_1-imagenet.pth"

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.skipif(not SQUEEZENET.exists(), reason="no ../shared/weights")]


@pytest.fixture
def quality():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import featvis_quality

        yield featvis_quality
    finally:
        sys.path.remove(str(SCRIPTS))


def test_a_short_run_reports_each_method_and_resumes_where_it_stopped(quality, tmp_path, capsys):
    report, images, sheet = tmp_path / "r.json", tmp_path / "images", tmp_path / "sheet.png"
    args = ["--seeds", "2", "--steps", "2", "--size", "64", "--methods", "lucid", "maco", "--json", str(report),
            "--images", str(images), "--out", str(tmp_path / "t.md")]
    assert quality.main([*args, "--names", "goldfish"]) == 0
    first = json.loads(report.read_text())
    assert [(r["class"], r["method"], r["images"]) for r in first["rows"]] == [("goldfish", "lucid", 2),
                                                                               ("goldfish", "maco", 2)]
    assert set(first["summary"]) == {"lucid", "maco"} and 0 <= first["summary"]["maco"]["top5"] <= 1
    capsys.readouterr()
    # Stopped after one class: the same command with more classes keeps it and makes only the new one.
    assert quality.main([*args, "--names", "goldfish", "tabby", "--sheet", str(sheet)]) == 0
    err = capsys.readouterr().err
    assert "resuming: 2 class x method rows" in err and "goldfish lucid" not in err and "tabby lucid" in err
    second = json.loads(report.read_text())
    assert second["rows"][:2] == first["rows"] and len(second["rows"]) == 4
    # The sheet: a row per class, each method's two seeds side by side, 128 px tiles.
    height, width = read_image(sheet).shape[:2]
    assert width > 4 * 128 and height > 2 * 128 and height < 3 * 128 + 100
    # Other settings do not resume: the report starts again.
    other = [("4" if previous == "--steps" else arg) for previous, arg in zip(["", *args], args)]
    assert quality.main([*other, "--names", "goldfish"]) == 0
    assert "made with other settings" in capsys.readouterr().err
    third = json.loads(report.read_text())
    assert third["steps"] == 4 and [r["class"] for r in third["rows"]] == ["goldfish", "goldfish"]
