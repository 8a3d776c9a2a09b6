"""pyro-optim's plugin: registers what the package provides."""
