"""GAN families, one file each; importing this package registers them all."""
from gancompress.recipes.base import RECIPES, Recipe, get_recipe  # noqa: F401
from gancompress.recipes import dcgan  # noqa: F401  (registration)
