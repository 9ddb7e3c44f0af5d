"""The catalog on a Docker engine: a profile run with Compose, watched, and removed.

| module | what it owns |
| --- | --- |
| `orchestrate` | the one compose file of the whole catalog, a compose profile per catalog profile |
| `engine` | the Docker SDK client, the Compose binary, a container's state read once |
| `compose` | the one Compose runner, and the teardown of a project (`down`, `verify --live`) |
| `up` | `fleetform up`: start a profile, wait for it in dependency order, seed 001's events |
| `down` | `fleetform down`: remove a project, named volumes kept |
| `status` | the health matrix: a verdict per service from the containers' states |
| `build_context` | what `docker build` of a service repository sees; a skeleton app if none |
| `live` | `fleetform verify --live`: build, run and health-check each generated service |
| `live_phases` | the phases of one service's live check, each returning a frozen result |
| `report` | every text and JSON report of up, down, status and verify --live |
| `standin/` | images that stand in for the ones no registry can deliver here |
"""
