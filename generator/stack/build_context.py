"""What `docker build -f infrastructure/Dockerfile .` of a service repository sees: its base
images, its context (the ignore file applied the way BuildKit chooses it) and, for a fresh
repository, a minimal application so that the generated Dockerfile has something to build.

`fleetform verify --live` builds through the Docker SDK, whose only builder is the engine's
classic one: it reads neither `infrastructure/Dockerfile.dockerignore` nor (from a context
sent as a tar stream) the root `.dockerignore`, so the context is filtered here.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

from docker.utils.build import exclude_paths

from generator.catalog.model import Runtime

DOCKERFILE = "infrastructure/Dockerfile"
# A digest pin of an image reference (`name:tag@sha256:...`, the catalog's base images).
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")


def base_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile's FROM lines name, in order, without its own stages and
    `scratch`, and without digests (`without_digests`). `ValueError` for a FROM that a build
    argument decides."""
    stages: set[str] = set()
    images: list[str] = []
    for instruction in _instructions(dockerfile):
        words = instruction.split()
        if not words or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if not args:
            continue
        image = _DIGEST.sub("", args[0])
        earlier_stage = image.lower() in stages
        if len(args) >= 3 and args[1].lower() == "as":
            stages.add(args[2].lower())
        if earlier_stage or image == "scratch":
            continue
        if "$" in image:
            raise ValueError(f"FROM {image}: a build argument decides the image")
        if image not in images:
            images.append(image)
    return images


def without_digests(context: Path, dockerfile: str = DOCKERFILE) -> None:
    """Drop the digest pins of the FROM lines in the context's copy of the Dockerfile.

    Its stand-in bases are local images, tagged by name: no digest names them, and the engine
    would look for the pinned one in a registry. The repository's own Dockerfile keeps them.
    """
    path = context / dockerfile
    if path.is_symlink() or not path.is_file():  # a link is the repository's: never written through
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(
        "".join(
            _DIGEST.sub("", line) if line.lstrip().upper().startswith("FROM") else line
            for line in lines
        ),
        encoding="utf-8",
    )


def _instructions(text: str) -> Iterator[str]:
    """A Dockerfile's instructions, continuation lines joined, comments dropped."""
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        yield current + stripped
        current = ""
    if current:
        yield current


def ignore_patterns(repo: Path, dockerfile: str = DOCKERFILE) -> list[str]:
    """The build's ignore patterns as BuildKit chooses them: `<Dockerfile>.dockerignore`
    beside the Dockerfile, else `.dockerignore` at the context's root."""
    for candidate in (repo / f"{dockerfile}.dockerignore", repo / ".dockerignore"):
        if candidate.is_file():
            lines = candidate.read_text(encoding="utf-8").splitlines()
            return [
                line.strip().lstrip("/")
                for line in lines
                if line.strip() and not line.strip().startswith("#")
            ]
    return []


def build_context(repo: Path, dest: Path, dockerfile: str = DOCKERFILE) -> list[str]:
    """Copy into `dest` the files of `repo` the build sees (the Dockerfile always);
    returns them, relative, sorted."""
    kept = sorted(exclude_paths(str(repo), ignore_patterns(repo, dockerfile), dockerfile))
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    for name in kept:
        source, target = repo / name, dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
            files.append(name)
        elif source.is_dir():
            target.mkdir(exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target)
            files.append(name)
    return files


def add_skeleton(context: Path, runtime: Runtime, service: str, health_path: str) -> list[str]:
    """A minimal application in the build context when it has none the Dockerfile can use;
    returns the files written (none if the repository brings its own)."""
    if runtime is Runtime.NODE:
        if (context / "package.json").exists():
            return []
        files = _node_skeleton(service, health_path)
    elif runtime in (Runtime.PYTHON, Runtime.MODEL):
        own = ("requirements.txt", "pyproject.toml", "setup.py", "app")
        if any((context / name).exists() for name in own):
            return []
        files = _python_skeleton(health_path)
    else:
        return []
    for name, text in files.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text, encoding="utf-8")
    return sorted(files)


_SKELETON_NOTE = (
    "Stand-in application written by `fleetform verify --live` into a temporary build context"
    " (never into the repository): it answers the catalog's health path on $PORT."
)


def _node_skeleton(service: str, health_path: str) -> dict[str, str]:
    package = {
        "name": service,
        "version": "0.0.0",
        "private": True,
        "description": _SKELETON_NOTE,
        "main": "server.js",
    }
    lock = {
        "name": service,
        "version": "0.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {"": {"name": service, "version": "0.0.0"}},
    }
    server = f"""\
// {_SKELETON_NOTE}
const http = require("http");
const port = Number(process.env.PORT || 8080);
http
  .createServer((req, res) => {{
    const ok = req.url === {json.dumps(health_path)};
    res.writeHead(ok ? 200 : 404, {{ "content-type": "text/plain" }});
    res.end(ok ? "ok\\n" : "not found\\n");
  }})
  .listen(port);
"""
    return {
        "package.json": json.dumps(package, indent=2) + "\n",
        "package-lock.json": json.dumps(lock, indent=2) + "\n",
        "server.js": server,
    }


def _python_skeleton(health_path: str) -> dict[str, str]:
    main = f'''\
"""{_SKELETON_NOTE}"""

import http.server
import os

HEALTH_PATH = {json.dumps(health_path)}


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == HEALTH_PATH
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"ok\\n" if ok else b"not found\\n")


http.server.ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), Health).serve_forever()
'''
    return {
        "requirements.txt": f"# {_SKELETON_NOTE}\n# No dependencies.\n",
        "app/__init__.py": f'"""{_SKELETON_NOTE}"""\n',
        "app/__main__.py": main,
    }


def tar_context(context: Path, fileobj: io.BytesIO) -> None:
    """The build context as a tar stream, every file of `context` in it (already filtered)."""
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for path in sorted(context.rglob("*")):
            tar.add(path, arcname=path.relative_to(context).as_posix(), recursive=False)
