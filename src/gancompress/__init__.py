"""gancompress: self-supervised compression of trained GAN generators."""
__version__ = "0.1.0"
