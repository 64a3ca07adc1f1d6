"""Tools to test code that uses ONE offline: a local Alyx-compatible server, data generator, faults."""
