"""The labrf exception family: every error labrf raises derives from LabrfError."""


class LabrfError(Exception):
    """Root of labrf's exceptions."""


class UsageError(LabrfError, ValueError):
    """A command or call asked for something that does not exist or is out of range (an
    unknown procedure, parameter or option value); the message names what is valid.
    The command line exits 2 for it, 1 for every other LabrfError."""


class ConfigError(LabrfError, ValueError):
    """A station or simulation file is malformed.

    The message names the file, the key at fault and what would be valid.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.reason = message  #: the message without its file and key
        where = ", ".join(part for part in (file, f"key '{key}'" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class UnitError(LabrfError, ValueError):
    """A quantity string could not be read in the expected unit."""


class SimulationError(LabrfError):
    """The simulated bench was asked for something it cannot do."""


class ResourceNotFound(SimulationError):
    """No simulated instrument answers at a VISA address."""


class InstrumentError(LabrfError):
    """An instrument did not answer, answered as another model, or refused a command.

    The message names the instrument, its address and what was being done.
    """


class LimitError(LabrfError, ValueError):
    """A request exceeds a hard or station limit; nothing was sent to the instrument.

    The message names the parameter, the value asked for and the range allowed.
    """

    def __str__(self) -> str:
        # QCoDeS appends "setting <parameter> to <value>" to args; show it after a ";"
        return "; ".join(str(a) for a in self.args)


class SafeStateError(LabrfError):
    """Some instruments could not be put in their safe state; the message lists them."""


class NetworkError(LabrfError, ValueError):
    """A network description or a network file is inconsistent.

    The message names the layer and quantity (or the file and key) at fault and what
    would be valid.
    """


class DataError(LabrfError, ValueError):
    """A data set is missing, unreadable or not what its task expects; the message names
    the file and how to obtain it."""
