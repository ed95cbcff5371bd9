"""Reading results: validation against published patterns, the figures of a run and the
reports of a sweep. Imports experiment (to run or read results), world and measures."""
