"""The built-in partner plugins. Each registers through the ``wijkhub.plugins`` entry point."""
