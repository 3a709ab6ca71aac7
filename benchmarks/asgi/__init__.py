"""example_project under uvicorn: the same page from an async and a sync view (section 9)."""
