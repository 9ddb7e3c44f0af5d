"""Images that stand in for the ones no registry can deliver to the machines fleetform runs on.

| module | what it owns |
| --- | --- |
| `images` | the builder: the base image once, a thin image tagged as each wanted one, removal |
| `context` | the base image's build context (`FILES`), read from the files in `base_image/` |
| `base_image/` | the Dockerfile and the scripts `run`, `probe`, `runtime`, as real files |

A stand-in never replaces a real image, and only stand-in tags are ever removed.
"""
