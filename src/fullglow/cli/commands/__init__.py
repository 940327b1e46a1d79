"""Subcommands of `fullglow`; every module here is discovered and registered by `fullglow.cli`."""
