"""Event filters on the simulated PBX, as Asterisk 22 applies them: the adapter's own filter, both syntaxes,
the refusal an AMI user without `write = system` gets, and list replies that no filter touches."""
from __future__ import annotations

from channels.asterisk.events import filter_actions
from simulators.pbx.server import SimulatedPbx
from support.ami_client import SECRET, Client


async def test_the_adapters_filter_leaves_only_the_events_the_tracker_reads(pbx, client):
    [reply] = [await client.send(action) for action in filter_actions()]
    assert reply.success
    linkedid = await pbx.replay("queue_answered", caller="+74950000031")
    await client.until(lambda: bool(client.of("Hangup", linkedid=linkedid)) and len(client.of("Hangup")) == 4)
    kinds = {e["Event"] for e in client.events}
    assert {"Newchannel", "QueueCallerJoin", "AgentCalled", "DialBegin", "AgentConnect", "Hangup"} <= kinds
    assert not kinds & {"Newexten", "DeviceStateChange", "Cdr", "QueueCallerLeave", "HangupRequest"}
    assert all(e.get("Variable") in ("MIXMONITOR_FILENAME", "SWITCHBOARD_RECORDING", "SWITCHBOARD_LEAD")
               for e in client.of("VarSet"))
    start, *items, complete = await client.send({"Action": "CoreShowChannels"})      # a reply, never filtered
    assert complete.event == "CoreShowChannelsComplete"


async def test_advanced_filters_by_name_and_header_and_an_exclusion(pbx, client):
    for criteria, expression in (("action(include),name(Hangup)", ""),
                                 ("action(include),name(VarSet),header(Variable),method(exact)", "QUEUE_NAME"),
                                 ("action(exclude),header(Channel),method(starts_with)", "Local/queue@")):
        assert (await client.send({"Action": "Filter", "Operation": "Add", "MatchCriteria": criteria,
                                   "Filter": expression})).success
    await pbx.replay("queue_answered", caller="+74950000032")
    await client.until(lambda: len(client.of("Hangup")) == 2)          # the two Local/queue halves excluded
    # (FullyBooted came with the login, before any filter); QUEUE_NAME is set on the Local/queue half only
    assert {e["Event"] for e in client.events} - {"FullyBooted"} == {"Hangup"}
    assert not any(e.get("Channel", "").startswith("Local/queue@") for e in client.events)


async def test_a_user_without_system_write_is_refused_and_gets_every_event():
    async with SimulatedPbx(username="switchboard", secret=SECRET, system_write=False) as pbx:
        client = Client(pbx)
        await client.login()
        try:
            refused = await client.send(filter_actions()[0])
            assert (refused.response, refused.message) == ("Error", "Permission denied")
            bad = await client.send({"Action": "Filter", "Operation": "Remove", "Filter": "Event: Hangup"})
            assert bad.response == "Error"
            await pbx.replay("queue_answered", caller="+74950000033")
            await client.until(lambda: len(client.of("Hangup")) == 4)
            assert client.of("Newexten") and client.of("Cdr")
        finally:
            client.manager.close()
