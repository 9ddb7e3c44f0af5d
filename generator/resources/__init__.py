"""Data files shipped with fleetform: the bundled catalog and the JSON Schemas."""
