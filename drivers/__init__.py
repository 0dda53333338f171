"""Instrument drivers in PyMeasure's declarative style, one vendor per subfolder."""
