"""A third-party pyro plugin for tests: ``ExampleDist`` and ``example_handler``."""

from pyro_plugin_example.dist import ExampleDist
from pyro_plugin_example.handler import ExampleMessenger, example_handler

__all__ = ["ExampleDist", "ExampleMessenger", "example_handler"]
