"""The skrub frontend: DataOps into plan nodes, node evaluation with skrub's own
code, the drop-in for ``make_grid_search``/``cross_validate``, and the replay
of skrub's result objects."""
