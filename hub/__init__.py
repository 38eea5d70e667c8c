"""Wijkhub: the road between a neighbourhood's partners and the Sociaal wijkteam.

Writing a partner plugin
========================

A plugin imports the hub through one module, :mod:`hub.plugin`, whose docstring
is the quick start (the entry-point TOML and a three-line plugin). The hooks
you can implement, with what each promises, are in :mod:`hub.core.hookspecs`.
``hub plugins`` lists what is loaded.
"""

import pluggy

PROJECT_NAME = "wijkhub"

#: Marks a function as an implementation of a Wijkhub hook.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
#: Marks a function in :mod:`hub.core.hookspecs` as a hook specification.
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
