"""Voice: Asterisk over AMI (call progress, actions) and FastAGI (Switchboard chooses the extension)."""
