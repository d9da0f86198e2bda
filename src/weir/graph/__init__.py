"""The graph model: nodes, edges, templates, trigger rules. Pure data, no I/O."""
