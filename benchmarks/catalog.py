"""Benchmark: validate + ports check on a synthetic 1,000-service catalog.

Prints wall times (best of N) and the ratio to a floor measured in the same run: composing the
same file with libyaml (the node graph with line:col marks), which any position-keeping checker
must pay. ruamel's round-trip loader is timed too, for reference.
Target (README): validate + ports check under 1 s for 1,000 services on a 2-core machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from ruamel.yaml import YAML

from generator.catalog.ports import check_ports
from generator.catalog.validation import open_catalog, validate

GROUP_SIZE = 100


def synthetic_catalog(services: int) -> str:
    """A catalog shaped like the seed's: groups of 100 ports, data services, dependencies."""
    groups = (services + GROUP_SIZE - 1) // GROUP_SIZE
    lines = ["version: 1", "name: synthetic", "groups:"]
    lines.append('  data: {ports: "20000-20099", cluster: core}')
    for g in range(groups):
        low = 30000 + g * GROUP_SIZE
        lines.append(f'  g{g}: {{ports: "{low}-{low + GROUP_SIZE - 1}", cluster: services}}')
    lines += [
        "services:",
        "  postgres: {group: data, runtime: image, image: postgres:15-alpine, port: 20000,"
        " health: {command: [pg_isready], class: infrastructure}}",
        "  redis: {group: data, runtime: image, image: redis:7-alpine, port: 20001}",
    ]
    for i in range(services):
        group, offset = divmod(i, GROUP_SIZE)
        port = 30000 + group * GROUP_SIZE + offset
        deps = ["postgres", "redis"] + ([f"s{i - 1}"] if offset else [])
        runtime = "python" if i % 3 == 0 else "node"
        lines += [
            f"  s{i}:",
            f"    group: g{group}",
            f"    runtime: {runtime}",
            f"    port: {port}",
            f"    depends_on: [{', '.join(deps)}]",
            "    resources: small",
            f"    repo: services/s{i}",
            "    autoscaling: {min: 2, max: 20, cpu: 70, memory: 80}",
        ]
    lines += [
        "profiles:",
        "  all: {groups: [data" + "".join(f", g{g}" for g in range(groups)) + "]}",
    ]
    return "\n".join(lines) + "\n"


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.yaml"
        path.write_text(synthetic_catalog(args.services), encoding="utf-8")
        assert validate(path).ok, "the synthetic catalog must be valid"
        text = path.read_text(encoding="utf-8")
        size = len(text.encode())
        floor = best_of(args.repeat, lambda: yaml.compose(text, Loader=yaml.CSafeLoader))
        ruamel = best_of(max(1, args.repeat // 2), lambda: YAML(typ="rt").load(text))
        opened = best_of(args.repeat, lambda: open_catalog(path))
        ports = best_of(args.repeat, lambda: check_ports(open_catalog(path).catalog))
        total = best_of(args.repeat, lambda: validate(path))
        cli = best_of(
            max(1, args.repeat // 2),
            lambda: subprocess.run(
                [str(Path(sys.executable).parent / "fleetform"), "validate", "-c", str(path)],
                check=True,
                capture_output=True,
            ),
        )
    print(f"synthetic catalog: {args.services} services ({size} bytes), best of {args.repeat}")
    rows = [
        ("floor: libyaml compose (with marks)", floor),
        ("reference: ruamel round-trip load", ruamel),
        ("load + schema + semantic checks", opened),
        ("... + ports check", ports),
        ("validate (library, all checks)", total),
        ("fleetform validate (CLI, new process)", cli),
    ]
    for label, seconds in rows:
        print(f"  {label:40} {seconds * 1000:8.1f} ms  ({seconds / floor:5.2f}x floor)")
    verdict = "meets" if cli < 1.0 else "MISSES"
    print(f"  target: CLI under 1 s for {args.services} services: {verdict}")


if __name__ == "__main__":
    main()
