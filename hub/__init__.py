"""Wijkhub: the road between a neighbourhood's partners and the Sociaal wijkteam.

Writing a partner plugin
========================

A plugin is a Python module with functions marked ``@hookimpl``, found through
the ``wijkhub.plugins`` entry-point group. In your ``pyproject.toml``::

    [project.entry-points."wijkhub.plugins"]
    mypartner = "mypartner.plugin"

and in ``mypartner/plugin.py``::

    from hub import hookimpl
    from hub.core.types import MessageType

    @hookimpl
    def wijkhub_message_types():
        return [MessageType(name="signal.example", partner_kinds=("mypartner",),
                            category="wonen", data_model=MyData, topic="een voorbeeld",
                            labels={"case_ref": "dossiernummer"})]

``labels`` gives the Dutch word for every field of ``MyData`` the core does not
name itself; ``tests/core/test_field_labels.py`` fails on a field without one.

The hooks you can implement, with what each promises, are in
:mod:`hub.core.hookspecs`. ``hub plugins`` lists what is loaded.
"""

import pluggy

PROJECT_NAME = "wijkhub"

#: Marks a function as an implementation of a Wijkhub hook.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
#: Marks a function in :mod:`hub.core.hookspecs` as a hook specification.
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
