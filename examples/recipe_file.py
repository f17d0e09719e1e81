"""Your own GAN as a recipe file for the command line:

    gancompress --recipe-file examples/recipe_file.py train --recipe own-digits-gan --steps 300 --out runs/own-t
    gancompress --recipe-file examples/recipe_file.py compress --recipe own-digits-gan --teacher runs/own-t \\
        --steps 100 --out runs/own-s

The file runs on import and registers a recipe; here one built from the modules of
examples/own_gan.py (a ModuleRecipe: noise in, images out, hinge loss). A family with
inputs other than noise subclasses `gancompress.recipes.base.Recipe` instead.
"""
import sys
from pathlib import Path

from gancompress.recipes import RECIPES
from gancompress.recipes.modules import ModuleRecipe

sys.path.insert(0, str(Path(__file__).parent))
from own_gan import D, G, digits  # noqa: E402  (the networks and data of the Python example)


@RECIPES.register("own-digits-gan")
class OwnDigitsGAN(ModuleRecipe):
    """A GAN outside the zoo: Linear stem, GroupNorm, spectral-norm critic, hinge loss, 8x8 digits."""

    def __init__(self, options=None):
        super().__init__(G, D, digits, loss="hinge", z_shape=16)
