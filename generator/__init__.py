"""fleetform: keep a fleet of service repositories generated from one catalog."""

__version__ = "0.1.0"
