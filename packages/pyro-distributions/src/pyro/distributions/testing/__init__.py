"""Tools for testing distributions: non-reparameterised fakes (:mod:`.fakes`), goodness-of-fit
tests of samples against densities (:mod:`.gof`) and rejection samplers built on
:class:`~pyro.distributions.Rejector` (:mod:`.rejection_gamma`).

The submodules are imported on demand (``from pyro.distributions.testing import gof``).
"""
