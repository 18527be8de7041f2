"""A simulated Asterisk 22 speaking AMI: recorded calls replayed (recordings/) and synthetic scenarios."""
from simulators.pbx.server import SimulatedPbx

__all__ = ["SimulatedPbx"]
