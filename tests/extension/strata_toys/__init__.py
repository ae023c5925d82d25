"""Toy extensions of strata, each named by import path in a config (docs/extending.md)."""
