"""Wire-protocol stand-ins for the peers that cannot run here (an Asterisk PBX, the Telegram Bot API).

They serve the demo, the tests and the benchmarks; the production client libraries talk to them for real.
Nothing in channels, routing, crm_store or operator_ui imports them.
"""
