"""Being Asterisk towards a FastAGI server: the environment it sends, and `200 result=1` to every command."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"


def environment(port: int, script: str = "route", **overrides: str | None) -> dict[str, str]:
    """The AGI environment as Asterisk 22 writes it for AGI(agi://127.0.0.1:PORT/route,sales,101)."""
    env: dict[str, str | None] = {
        "agi_network": "yes", "agi_network_script": script, "agi_request": f"agi://{HOST}:{port}/{script}",
        "agi_channel": "PJSIP/pstn-00000031", "agi_language": "en", "agi_type": "PJSIP",
        "agi_uniqueid": "1795384335.10", "agi_version": "22.10.0", "agi_callerid": "+74951234567",
        "agi_calleridname": "Иван Петров", "agi_callingpres": "0", "agi_callingani2": "0",
        "agi_callington": "0", "agi_callingtns": "0", "agi_dnid": "6000", "agi_rdnis": "unknown",
        "agi_context": "from-pstn", "agi_extension": "6000", "agi_priority": "1", "agi_enhanced": "0.0",
        "agi_accountcode": "", "agi_threadid": "140298471085632", "agi_arg_1": "sales", "agi_arg_2": "101",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@dataclass
class Exchange:
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def variables(self) -> dict[str, str]:
        out = {}
        for command in self.commands:
            _, _, name, value = command.split(" ", 3)
            out[name] = value
        return out


async def agi_call(port: int, env: dict[str, str], timeout: float = 30.0) -> Exchange:
    """Be Asterisk: send the environment and a blank line, answer each command `200 result=1`."""
    exchange = Exchange()
    start = time.perf_counter()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
            await writer.drain()
            while line := await reader.readline():
                exchange.commands.append(line.decode().rstrip("\n"))
                writer.write(b"200 result=1\n")
                await writer.drain()
        finally:
            writer.close()
    exchange.seconds = time.perf_counter() - start
    return exchange


def answered(exchange: Exchange) -> tuple[str, str]:
    variables = exchange.variables()
    assert list(variables) == ["SWITCHBOARD_EXTEN", "SWITCHBOARD_REASON"], exchange.commands
    return variables["SWITCHBOARD_EXTEN"], variables["SWITCHBOARD_REASON"]
