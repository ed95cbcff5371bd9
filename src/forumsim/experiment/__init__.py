"""Running experiments: scenario and sweep files, plans and seeds, executors (process
pool, Dask), the results store, and `run()` with paired counterfactuals. Imports the
world and the measures, never the analysis or the user interface."""
