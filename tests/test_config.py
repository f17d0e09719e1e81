import pytest

from gancompress.config import ConfigError, RunConfig, TrainConfig, from_mapping, load_config, shipped_configs, to_dict
from gancompress.registry import Registry, UnknownNameError


def test_defaults_round_trip_through_dict():
    cfg = load_config(None, [])
    assert from_mapping(RunConfig, to_dict(cfg)) == cfg


def test_overrides_parse_yaml_values():
    cfg = load_config(None, ["prune.target=0.75", "train.steps=12", "prune.include=[G.main.0]"])
    assert cfg.prune.target == 0.75 and cfg.train.steps == 12 and cfg.prune.include == ("G.main.0",)


@pytest.mark.parametrize("text, value", [("3e-4", 3e-4), ("-1E5", -1e5), ("2.0e-4", 2e-4), ("7", 7), ("1e", "1e")])
def test_overrides_read_floats_without_a_dot(text, value):
    """Untyped options (a term weight) keep "3e-4" a number, not YAML 1.1's string."""
    cfg = load_config(None, [f"technique_options.weights.G/adv={text}"])
    assert cfg.technique_options["weights"]["G/adv"] == value


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


# -- extends: a config built on another ------------------------------------------------------
def _write(path, text):
    path.write_text(text)
    return path


def test_extends_shipped_builds_on_the_recipes_tuned_config_and_the_file_wins(tmp_path):
    shipped = load_config("dcgan-digits")
    cfg = load_config(_write(tmp_path / "my.yaml", "extends: shipped\nrecipe: dcgan-digits\nprune:\n  target: 0.75\n"))
    assert cfg.prune.target == 0.75
    assert (cfg.prune.scope, cfg.train.lr_g, cfg.technique_options) == \
        (shipped.prune.scope, shipped.train.lr_g, shipped.technique_options)


def test_extends_a_file_next_to_it_in_a_chain_and_a_new_technique_drops_the_old_options(tmp_path):
    _write(tmp_path / "base.yaml", "extends: dcgan-digits\ntrain:\n  steps: 77\n")
    cfg = load_config(_write(tmp_path / "top.yaml", "extends: base.yaml\ntechnique: gan-finetune\n"))
    assert (cfg.train.steps, cfg.prune.scope, cfg.technique) == (77, "global", "gan-finetune")
    assert cfg.technique_options == {}


@pytest.mark.parametrize("text, message", [
    ("extends: shipped\nprune:\n  target: 0.5\n", "needs the file's recipe"),
    ("extends: shipped\nrecipe: pix2pix\n", "no config is shipped for recipe 'pix2pix'"),
    ("extends: 3\n", "extends=3"),
    ("extends: nowhere.yaml\n", "nowhere.yaml' does not exist"),
    ("extends: me.yaml\n", "a cycle"),
])
def test_extends_errors_name_the_file_and_the_problem(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path / "me.yaml", text))


def test_a_config_without_extends_says_it_builds_on_the_untuned_defaults(tmp_path, caplog):
    caplog.set_level("INFO", logger="gancompress")
    load_config(_write(tmp_path / "plain.yaml", "recipe: dcgan-digits\n"))
    assert "extends: shipped" in caplog.text
    caplog.clear()
    load_config(_write(tmp_path / "based.yaml", "extends: shipped\nrecipe: dcgan-digits\n"))
    load_config("dcgan-digits")
    assert "built-in defaults" not in caplog.text
