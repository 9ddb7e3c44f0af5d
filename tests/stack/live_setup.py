"""The live-verify catalog and the real base images it must not find on the engine."""

from __future__ import annotations

from typing import Any

from generator.stack.engine import PROJECT_LABEL

# web: a node service with one image dependency (health-gated), on a health path of its own;
# stuck: a python service without dependencies.
LIVE = """\
version: 1
name: fleetform-live
groups:
  data: {{ports: "41030-41039", cluster: core}}
  apps: {{ports: "41040-41049", cluster: services}}
services:
  cache:
    group: data
    runtime: image
    image: fleetform-test/live-cache:1
    port: 41030
    container_port: 6379
    health: {{command: [redis-cli, ping], class: infrastructure}}
  web:
    group: apps
    runtime: node
    registry: fleetform-test
    port: 41040
    depends_on: [cache]
    health: {{path: /ready, class: infrastructure}}
  stuck:
    group: apps
    runtime: python
    registry: fleetform-test
    port: 41041
    health: {{class: infrastructure}}
template:
  src: {template}
  ref: {ref}
"""

NODE_BASE = "node:22.14.0-bookworm-slim"

PYTHON_BASE = "python:3.12.9-slim-bookworm"


def project_resources(client: Any, prefix: str) -> list[str]:
    """Containers and networks of every compose project whose name starts with `prefix`."""
    found = []
    for container in client.containers.list(all=True, filters={"label": PROJECT_LABEL}):
        if container.labels.get(PROJECT_LABEL, "").startswith(prefix):
            found.append(f"container {container.name}")
    for network in client.networks.list(filters={"label": PROJECT_LABEL}):
        if (network.attrs.get("Labels") or {}).get(PROJECT_LABEL, "").startswith(prefix):
            found.append(f"network {network.name}")
    return found
