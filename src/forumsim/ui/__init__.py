"""What people use: the `forumsim` command and the teaching page with its live figures.
The top layer: it may import every other layer, and none imports it."""
