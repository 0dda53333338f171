"""Measurement procedures (PyMeasure ``Procedure`` subclasses written against roles).

Each module holds procedures derived from ``labrf.procedure.LabProcedure``; the runner
finds them by their ``name`` (``labrf run <name>``), so a lab's own procedure module
dropped here is found the same way.
"""
