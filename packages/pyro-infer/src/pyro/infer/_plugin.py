"""pyro-infer's plugin: registers what the package provides."""
