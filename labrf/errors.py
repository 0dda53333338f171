"""The labrf exception family: every error labrf raises derives from LabrfError."""


class LabrfError(Exception):
    """Root of labrf's exceptions."""


class ConfigError(LabrfError, ValueError):
    """A station or simulation file is malformed.

    The message names the file, the key at fault and what would be valid.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        where = ", ".join(part for part in (file, f"key '{key}'" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class UnitError(LabrfError, ValueError):
    """A quantity string could not be read in the expected unit."""


class SimulationError(LabrfError):
    """The simulated bench was asked for something it cannot do."""


class ResourceNotFound(SimulationError):
    """No simulated instrument answers at a VISA address."""
