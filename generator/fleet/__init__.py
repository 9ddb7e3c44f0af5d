"""catalog -> answers -> Copier -> the service repositories.

| module | what it owns |
| --- | --- |
| `answers` | the one mapping from a catalog service to its Copier answers, validated |
| `template` | `TemplateSource` (where the template comes from) and the git facts asked of it |
| `copier_worker` | Copier's Worker sharing clones and Jinja per process (Copier's private API) |
| `copier_rerender` | copier update's clean render of the new version, taken from its first |
| `copier_objects` | where copier update's throwaway repositories find objects, without asking git |
| `copier_git` | Copier's git given fleetform's hardened environment (no GIT_DIR from a hook) |
| `render` | one Copier render of a service into a new directory |
| `manifest` | `.fleetform-manifest.json`: what fleetform wrote, by digest |
| `recorded` | `.copier-answers.yml`: the template source, version and answers recorded |
| `compare` | a rendered tree against a repository: which files differ, and the diff |
| `repository` | the git state of a service repository: updatable, changed, conflicting |
| `confine` | paths from repository content kept inside the repository, links never followed |
| `workspace` | `.fleetform/` in a workspace: locks, staging, journals, a run's temporary files |
| `apply` | a finished change moved into a repository under a journal; interrupted ones finished |
| `scratch` | the scratch clone Copier updates, and the change it made |
| `generate` | render every service into its repository, all or nothing per repository |
| `verified` | `.fleetform/verified.json`: repositories found as fleetform wrote them, by `lstat` |
| `new` | add a service to the catalog, then render it |
| `update` | `copier update` across the workspace, clean trees only, never committing |
| `heal` | drifted repositories re-rendered at their recorded version, owners' edits merged in |
| `merge` | a render merged three ways into a file as copier update merges, base from history |
| `outcome` | what update and heal share: run options, a repository's result, the run's report |
| `owned` | which files are the owners' (`owned_files`, `_skip_if_exists`): rendered once at most |
| `drift` | which repositories differ from what their recorded version renders |
| `clone` | the repositories from their remotes: cloned, or fetched (work trees untouched) |
| `ports_snapshot` | `infrastructure/fleet-ports.json`: the fleet's ports, in every repository |
| `orphans` | repositories fleetform generated for services no longer in the catalog |
| `campaign/` | `fleetform campaign`: a branch, a commit and a push per repository, ledgered |
| `report` | the text of the fleet commands: progress line and closing tables |
| `pipeline` | the catalog repository's `.gitlab-ci.yml`: checks, dry run, sharded campaigns |
| `pipeline_file` | writing that file atomically, only over one fleetform wrote (`fleetform ci`) |
"""
