"""Files -> searchable archive: inbox watcher, durable queue, stores, Whoosh index, rebuild.

Calls the recognizer only through its public API.
"""
