"""Pipeline: the result store, the runs, the stages and where work runs."""
