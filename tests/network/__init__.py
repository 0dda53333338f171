"""Tests of labrf.network: the two-layer MTJ network model."""
