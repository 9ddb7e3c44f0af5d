"""Which files of a tree each validator takes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_COMPOSE_NAMES = frozenset(
    {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}
)
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})


@dataclass
class Targets:
    base: Path
    dockerfiles: list[Path] = field(default_factory=list)
    scripts: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    gitlab_ci: list[Path] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        files = self.dockerfiles + self.scripts + self.compose_files + self.gitlab_ci
        return not files and not self.charts


def discover(root: Path) -> Targets:
    """The files each validator takes; hidden directories, node_modules and subcharts skipped."""
    if root.is_file():
        targets = Targets(base=root.parent)
        _classify(targets, root)
        return targets
    targets = Targets(base=root)
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not _skipped(d, files))
        for name in sorted(files):
            _classify(targets, Path(directory) / name)
    return targets


def _skipped(subdir: str, siblings: list[str]) -> bool:
    # A chart's charts/ holds its subcharts: helm lints and renders them with their parent.
    subchart = subdir == "charts" and "Chart.yaml" in siblings
    return subdir.startswith(".") or subdir in _SKIPPED_DIRS or subchart


def _classify(targets: Targets, path: Path) -> None:
    name = path.name
    if _is_dockerfile(name):
        targets.dockerfiles.append(path)
    elif name.endswith(".sh"):
        targets.scripts.append(path)
    elif name in _COMPOSE_NAMES:
        targets.compose_files.append(path)
    elif name == ".gitlab-ci.yml":
        targets.gitlab_ci.append(path)
    elif name == "Chart.yaml":
        targets.charts.append(path.parent)


def _is_dockerfile(name: str) -> bool:
    # Dockerfile.dockerignore is BuildKit's ignore file for that Dockerfile, not a Dockerfile.
    variant = name.startswith("Dockerfile.") and not name.endswith(".dockerignore")
    return name == "Dockerfile" or variant or name.endswith(".Dockerfile")
