"""The protocol of every shipped compression config: a budget of at most 10% of its teacher's own
training steps (read from the teacher's train_config.yaml), AGP from 5% to the target at half the run,
lambda 0.5. Configs whose teacher is not yet redone under it are strict xfails: one that starts to
pass fails here until it leaves the list."""
import pytest

from gancompress.api import shipped_teacher
from gancompress.config import load_config, shipped_configs
from gancompress.io import read_yaml

NOT_YET = {  # config -> why it is outside the protocol (issue 19 retrains these teachers)
    "dcgan-digits": "600 steps on a 4,000-step teacher (15%); superseded by dcgan-mnist",
    "pix2pix-edges": "300 steps on a 1,200-step teacher (25%); superseded by pix2pix-denoise",
    "srgan-photos": "900 steps on a 900-step teacher (100%); a 10,000-step retraining stalled below bicubic",
}


def _configs():
    return [pytest.param(name, marks=pytest.mark.xfail(reason=NOT_YET[name], strict=True)) if name in NOT_YET
            else name for name in shipped_configs()]


def teacher_steps(recipe: str) -> int:
    """The teacher's training steps, with those of the run it started from (``train --init``) if any."""
    folder = shipped_teacher(recipe)
    files = [folder / "train_config.yaml", folder / "init_config.yaml"]
    return sum(read_yaml(f.read_text())["train"]["steps"] for f in files if f.exists())


@pytest.mark.parametrize("name", _configs())
def test_shipped_config_follows_the_protocol(name):
    cfg = load_config(name)
    assert cfg.train.steps <= 0.10 * teacher_steps(cfg.recipe)
    assert (cfg.prune.schedule, cfg.prune.initial, cfg.prune.begin, cfg.prune.end) == ("agp", 0.05, 0.0, 0.5)
    assert cfg.technique != "self-supervised" or cfg.technique_options.get("lambda_dc", 0.5) == 0.5


def test_every_shipped_teacher_records_its_training_config():
    for name in {load_config(c).recipe for c in shipped_configs()}:
        assert teacher_steps(name) > 0, name
