"""The simulated world: people and their role classes, fora and memberships, access
regimes, ties, relocation and founding, interventions, and the `Ecosystem` that steps
them one day at a time. It imports nothing of the layers above it (experiment, analysis,
ui) and knows nothing of files, pages or executors."""
