"""Compression techniques: the self-supervised method and the baselines, one file each."""
from gancompress.techniques.base import TECHNIQUES, Technique, get_technique  # noqa: F401
from gancompress.techniques import (adversarial_kd, dense, em_pruning, gan_finetune, lit,  # noqa: F401  (registration)
                                    self_supervised)
