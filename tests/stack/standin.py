"""Stand-in images for the engine tests: the library's own (`generator.stack.standin.images`), which
`fleetform verify --live` uses too. The tests tag one for every image the orchestration file
asks for, with the knobs (NEVER_HEALTHY, CRASH_AFTER, START_DELAY) a test wants."""

from generator.errors import BusyboxMissingError, RealImageError
from generator.stack.standin.images import (
    LABEL,
    StandIn,
    base_image,
    build,
    remove,
    standins,
    static_busybox,
)

__all__ = [
    "LABEL",
    "BusyboxMissingError",
    "RealImageError",
    "StandIn",
    "base_image",
    "build",
    "remove",
    "standins",
    "static_busybox",
]
