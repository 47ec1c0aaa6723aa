"""The registry notification receiver: blueprint (views), envelope schemas, the event filter and its record type.

Nothing is imported here: the recording service imports ``app.registry.actions`` without pulling in the views.
"""
