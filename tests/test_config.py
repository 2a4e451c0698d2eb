"""config.yaml validation: a wrong key or value gives one line naming it."""

import pytest

from deepvis import DeepvisError
from deepvis.cli import main
from deepvis.config import Config, load_config, validate
from deepvis.paths import DEFAULT_CONFIG


def test_the_shipped_config_is_valid():
    config = load_config(DEFAULT_CONFIG)
    assert config.model == "efficientnet_lite0" and config.backprop == "off"


@pytest.mark.parametrize("raw, key", [
    ({"modle": "x"}, "'modle' is not a known key"),
    ({"boost": 2}, "'boost' must be between 0.0 and 1.0"),
    ({"boost": "high"}, "'boost' must be a number"),
    ({"colormap": "rainbow"}, "'colormap' must be one of"),
    ({"device": "tpu"}, "'device' must be auto"),
    ({"window": {"width": 10}}, "'window.width' must be between"),
    ({"window": {"depth": 3}}, "'window.depth' is not a known key"),
    ({"camera_index": 1.5}, "'camera_index' must be a whole number"),
    ({"layers": 3}, "'layers' must be a list"),
])
def test_bad_values_name_the_key(raw, key):
    with pytest.raises(DeepvisError, match=key):
        validate(raw)


def test_yaml_off_means_backprop_off_and_layer_lists():
    config = validate({"backprop": False, "layers": "block1, block3"})
    assert config.backprop == "off" and config.layers == ("block1", "block3")


def test_command_line_flags_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: alexnet\nboost: 0.5\n")
    config = load_config(path).replace(model="vgg16", device=None)
    assert config.model == "vgg16" and config.boost == 0.5 and config.device == "auto"
    assert isinstance(config, Config)


def test_cli_reports_a_bad_config_in_one_line(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("gamma: -1\n")
    assert main(["--config", str(path), "models"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["deepvis: error: c.yaml: 'gamma' must be between 0.05 and 10.0, not -1"]
    path.write_text("model: [unclosed\n")
    assert main(["--config", str(path), "models"]) == 2
    assert "not valid YAML" in capsys.readouterr().err
