"""The simulated bench: a coupled world behind SCPI emulators of real instruments."""
