#!/usr/bin/python3
"""A pymodbus 3.0 Modbus TCP server, as an outside peer for interop tests.

Usage: /usr/bin/python3 pymodbus_server.py '{"unit": 1, "hr": {"0": [1, 2]}, "ir": {}, "co": {}, "di": {}}'

Each table maps a start address to a list of values; the blocks are sparse, so an address that
is not listed does not exist and a request touching it gets exception 02 (illegal data address).
Addresses are protocol (zero-based) addresses. Listens on 127.0.0.1, port 0, prints "PORT <n>" once
it accepts connections, and stops when stdin closes (so it never outlives the test that ran it).
"""

import asyncio
import json
import logging
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.server.async_io import ModbusTcpServer


def block(spec, table):
    values = {}
    for start, run in spec.get(table, {}).items():
        for i, value in enumerate(run):
            values[int(start) + i] = value
    # An empty sparse block is not allowed; one register far away stands for "nothing here".
    return ModbusSparseDataBlock(values or {65535: 0})


async def main():
    logging.disable(logging.CRITICAL)
    spec = json.loads(sys.argv[1])
    slave = ModbusSlaveContext(
        di=block(spec, "di"), co=block(spec, "co"), hr=block(spec, "hr"), ir=block(spec, "ir"), zero_mode=True
    )
    context = ModbusServerContext(slaves={spec.get("unit", 1): slave}, single=False)
    server = ModbusTcpServer(context, address=("127.0.0.1", 0), allow_reuse_address=True)
    serving = asyncio.ensure_future(server.serve_forever())
    await server.serving
    port = server.server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.server_close()
    serving.cancel()


if __name__ == "__main__":
    asyncio.run(main())
