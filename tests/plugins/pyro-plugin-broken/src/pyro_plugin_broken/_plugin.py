"""Fails at import on purpose."""

raise ImportError("pyro-plugin-broken is broken on purpose")
