"""The plugin module named by the entry point; nothing heavy is imported at module level."""

from pyro.plugins import hookimpl


@hookimpl
def pyro_register_distributions(registry):
    from pyro_plugin_example.dist import ExampleDist

    registry.add("ExampleDist", ExampleDist)


@hookimpl
def pyro_register_handlers(registry):
    from pyro_plugin_example.handler import example_handler

    registry.add("example_handler", example_handler)
