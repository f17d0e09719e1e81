"""GAN families, one file each; importing this package registers them all."""
from gancompress.recipes.base import RECIPES, Recipe, get_recipe  # noqa: F401
from gancompress.recipes import dcgan  # noqa: F401  (registration)
from gancompress.recipes import stargan  # noqa: F401  (registration)
from gancompress.recipes import cyclegan, pix2pix  # noqa: F401  (registration)
from gancompress.recipes import srgan  # noqa: F401  (registration)
from gancompress.recipes.plugins import load_entry_points

load_entry_points()  # recipes of installed packages (the gancompress.recipes entry-point group)
