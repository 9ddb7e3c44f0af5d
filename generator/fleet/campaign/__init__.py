"""Campaigns: one branch, one commit and one merge request per repository, resumable.

| module | what it owns |
| --- | --- |
| `ledger` | the campaign's ledger: per repository state, idempotency key, commit, push |
| `shard` | `--shard I/N`: a stable share of the fleet by service id |
| `branch` | the branch built in a scratch repository: one deterministic commit |
| `push` | the remote's view of the branch, and one push with merge-request options |
| `run` | `campaign run`: every repository of the shard, locked, ledgered, pushed once |
| `status` | `campaign status`: the shards' ledgers merged |
| `report` | the text of both commands: table, JSON, Markdown |
"""
