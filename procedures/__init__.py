"""Measurement procedures (PyMeasure ``Procedure`` subclasses written against roles)."""
