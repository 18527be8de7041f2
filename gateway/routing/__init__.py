"""Live routing in the gateway: the engine driven (driver), its outcomes stored (outcomes), the operators'
screens served (screens), the wallboard kept (wallboard); the rest of the gateway sees only `ports`."""
