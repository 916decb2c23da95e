"""The run layer: wire protocol, worker, worker pool, framework adapters, and the pipeline per binding.

Kept import-light: a framework's environment imports `harness.run.worker` with only numpy and its framework."""
