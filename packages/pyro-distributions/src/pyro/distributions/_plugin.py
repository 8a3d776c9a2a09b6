"""pyro-distributions's plugin: registers what the package provides."""
