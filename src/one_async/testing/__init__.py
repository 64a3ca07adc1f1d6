"""Test pipelines offline: a local Alyx-compatible server, a data generator and faults."""
