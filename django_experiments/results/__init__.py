"""Experiment results: rollups kept by the database sink, grouped SQL, statistics, rendering."""
