"""pyro-nn's plugin: registers what the package provides."""
