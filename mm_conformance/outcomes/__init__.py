"""What a run leaves: results, the runs of a report directory, the conformance report, the behaviour
trace. No pytest."""
