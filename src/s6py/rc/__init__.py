"""s6-rc's build-time half: source definition directories (source.py), the service graph
and its validation (graph.py), our compiled database (compiled.py).  See docs/s6-rc.md."""
