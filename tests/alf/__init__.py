"""Tests of one_async.alf."""
