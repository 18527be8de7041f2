"""Words every package shares and none owns: the names of the channels a contact arrives on.

It sits below channels, routing, crm_store and gateway (which must not import one another), so that
each of them can say "voice" without a copy of its own.
"""
