"""A package whose pyro plugin module is broken on purpose."""
