"""Voice wired in: calls from the AMI adapter become leads, screen pops, call records and callbacks."""
