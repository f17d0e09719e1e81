import pytest

from gancompress.config import ConfigError, RunConfig, TrainConfig, from_mapping, load_config, shipped_configs, to_dict
from gancompress.registry import Registry, UnknownNameError


def test_defaults_round_trip_through_dict():
    cfg = load_config(None, [])
    assert from_mapping(RunConfig, to_dict(cfg)) == cfg


def test_overrides_parse_yaml_values():
    cfg = load_config(None, ["prune.target=0.75", "train.steps=12", "prune.include=[G.main.0]"])
    assert cfg.prune.target == 0.75 and cfg.train.steps == 12 and cfg.prune.include == ("G.main.0",)


@pytest.mark.parametrize("override, key", [
    ("prune.bogus=1", "prune.bogus"),
    ("train.stepz=3", "train.stepz"),
    ("colour=red", "colour"),
])
def test_unknown_key_is_named(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, [override])


@pytest.mark.parametrize("override, word", [
    ("prune.target=1.0", "target"),
    ("prune.target=-0.1", "target"),
    ("train.steps=0", "train.steps"),
    ("train.batch_size=two", "train.batch_size"),
    ("train.lr_g=-1", "train.lr_g"),
    ("train.lr_decay_start=1.5", "train.lr_decay_start"),
    ("train.ema=1.0", "train.ema"),
    ("train.device=tpu", "train.device"),
])
def test_out_of_range_values_are_named(override, word):
    with pytest.raises(ConfigError, match=word):
        load_config(None, [override])


def test_yaml_file_and_override_precedence(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("prune:\n  target: 0.25\ntrain:\n  steps: 5\n")
    cfg = load_config(path, ["train.steps=7"])
    assert cfg.prune.target == 0.25 and cfg.train.steps == 7


def test_switching_technique_drops_the_files_technique_options():
    """A shipped config's self-supervised options do not break `--technique gan-finetune`."""
    kept = load_config("pix2pix-edges", [])
    assert kept.technique == "self-supervised" and kept.technique_options["form"] == "abs"
    switched = load_config("pix2pix-edges", ["technique=gan-finetune", "technique_options.distill=100"])
    assert switched.technique_options == {"distill": 100}
    assert switched.prune == kept.prune and switched.train == kept.train  # the rest of the file still applies


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("prune: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_override_needs_equals():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(None, ["prune.target"])


def test_registry_lists_valid_names():
    reg = Registry("thing")
    reg.register("b", 2)
    reg.register("a", 1)
    assert reg.names() == ["a", "b"] and reg.get("a") == 1
    with pytest.raises(UnknownNameError, match="valid: a, b"):
        reg.get("c")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 3)


def test_train_config_bool_is_not_int():
    with pytest.raises(ConfigError, match="train.steps"):
        from_mapping(TrainConfig, {"steps": True}, "train.")


@pytest.mark.parametrize("name", shipped_configs())
def test_every_shipped_config_is_valid(name):
    from gancompress.config import options_from
    from gancompress.recipes import RECIPES
    from gancompress.techniques import TECHNIQUES

    cfg = load_config(name, [])
    assert cfg.recipe in RECIPES.names() and cfg.technique in TECHNIQUES.names()
    options_from(TECHNIQUES.get(cfg.technique).Options, cfg.technique_options, "technique_options")
