"""Tensor helpers shared by the packages of the framework."""
