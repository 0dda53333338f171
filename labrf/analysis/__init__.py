"""Fits and plots over measured data."""
