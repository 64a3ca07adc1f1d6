"""The local Alyx-compatible server: store, filters, serializers and the ASGI app."""
