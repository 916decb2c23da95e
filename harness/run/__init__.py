"""The run layer: wire protocol, worker, worker pool, framework adapters, the pipeline per binding,
and the session that holds one process's share of a run (session.py).

Kept import-light: a framework's environment imports `harness.run.worker` with only numpy and its framework."""
