// The ACL as tables: each role × topic (or filter) × device scope, allowed or not.
import { describe, expect, it } from 'vitest';
import { checkHistoryRead, checkPublish, checkSubscribe, TWIN_CHANGES, type AclContext } from './acl.js';
import type { Principal, Role } from './users.js';

const PROTOCOLS: Record<string, string> = { 'default/thermo': 'modbus', 'default/env': 'bluetooth', 'plant/press': 'modbus' };
const ctx: AclContext = { nodeName: 'edge-1', registry: { protocolOf: (id) => PROTOCOLS[id] } };

function who(role: Role, extra: { protocols?: string[]; devices?: string[] } = {}): Principal {
  return { name: `${role}-1`, role, protocols: new Set(extra.protocols ?? []), devices: new Set(extra.devices ?? []) };
}

const D = '$hw/events/device';
const E = '$edgetwin/device';
const modbusMapper = who('mapper', { protocols: ['modbus'] });
const listedMapper = who('mapper', { devices: ['default/env'] });
const app = who('app');
const writer = who('writer');
const scopedWriter = who('writer', { devices: ['plant/press'] });
const admin = who('admin');

describe('publish', () => {
  it.each([
    [modbusMapper, `${D}/default/thermo/twin/update`, true],
    [modbusMapper, `${D}/default/thermo/state/update`, true],
    [modbusMapper, `${D}/default/thermo/twin/get`, true],
    [modbusMapper, `${D}/plant/press/twin/update`, true],
    [modbusMapper, `${D}/default/env/twin/update`, false], // another protocol's device
    [modbusMapper, `${D}/default/unknown/twin/update`, false], // not bound here: no protocol
    [modbusMapper, `${D}/default/thermo/twin/cloud_updated`, false],
    [modbusMapper, `${D}/default/thermo/twin/update/result`, false], // spoofing answers
    [modbusMapper, `$ke/events/device/default/thermo/data/update`, true],
    [modbusMapper, `$hw/events/node/edge-1/membership/get`, true],
    [modbusMapper, `$hw/events/node/edge-2/membership/get`, false],
    [modbusMapper, `$hw/events/node/edge-1/membership/updated`, false],
    [modbusMapper, 'plain/topic', false],
    [modbusMapper, `${D}/Default/ADV-1/twin/update`, true], // no device: answered 400 by the twin
    [modbusMapper, `$hw/events/device/thermo/twin/update`, true], // the pre-1.17 one-segment id, likewise
    [modbusMapper, `${D}/default/thermo/twin/updat`, true], // no kind, likewise
    [modbusMapper, `$hw/events/device/thermo/twin/update/result`, false], // an answer, even without a device
    [app, `${D}/default/adv_1/twin/update`, false], // a kind the role never publishes
    [listedMapper, `${D}/default/env/twin/update`, true],
    [listedMapper, `${D}/default/thermo/twin/update`, false],
    [app, `${D}/default/thermo/twin/get`, true],
    [app, `${D}/default/thermo/twin/update`, false],
    [app, `${D}/default/thermo/state/update`, false],
    [app, `$ke/events/device/default/thermo/data/update`, false],
    [writer, `${D}/default/thermo/twin/update`, true],
    [writer, `${D}/default/thermo/state/update`, false],
    [scopedWriter, `${D}/plant/press/twin/update`, true],
    [scopedWriter, `${D}/default/thermo/twin/update`, false],
    [admin, `${D}/default/thermo/twin/cloud_updated`, true],
    [admin, 'plain/topic', true],
    // edgetwin's history extension: apps and above ask for the devices they see; mappers never.
    [app, `${E}/default/thermo/history/get`, true],
    [writer, `${E}/default/thermo/history/get`, true],
    [scopedWriter, `${E}/plant/press/history/get`, true],
    [scopedWriter, `${E}/default/thermo/history/get`, false],
    [modbusMapper, `${E}/default/thermo/history/get`, false],
    [app, `${E}/default/thermo/history/get/result`, false], // spoofing answers
    [app, `${E}/default/thermo/history/nope`, false],
    [admin, `${E}/default/thermo/history/get/result`, true],
  ])('%#: %o publishes %s → %s', (p, topic, allowed) => {
    expect(checkPublish(p, topic, ctx) === undefined).toBe(allowed);
  });
});

describe('subscribe', () => {
  it.each([
    [modbusMapper, `${D}/default/thermo/twin/update/delta`, true],
    [modbusMapper, `${D}/default/thermo/twin/update/result`, true],
    [modbusMapper, `${D}/default/thermo/twin/get/result`, true],
    [modbusMapper, `${D}/default/thermo/state/update/result`, true],
    [modbusMapper, `${D}/default/thermo/twin/update/+`, false], // also matches documents
    [modbusMapper, `${D}/default/thermo/twin/update/document`, false],
    [modbusMapper, `${D}/default/thermo/twin/update`, false], // other clients' requests
    [modbusMapper, `${D}/default/thermo/#`, false],
    [modbusMapper, `${D}/+/+/twin/update/delta`, false], // a wildcard over devices
    [modbusMapper, `${D}/default/env/twin/update/delta`, false],
    [modbusMapper, `$hw/events/node/edge-1/membership/updated`, true],
    [modbusMapper, `$hw/events/node/edge-1/membership/+`, false], // includes membership/get
    [modbusMapper, `$hw/events/node/+/membership/updated`, false],
    [modbusMapper, `$ke/events/device/default/thermo/data/update`, false],
    [modbusMapper, '#', false],
    [modbusMapper, `${D}//twin/update/result`, true], // answers to messages that name no device
    [modbusMapper, `${D}/+/twin/update/result`, false],
    [scopedWriter, `${D}//twin/update/result`, true],
    [app, `${D}/+/+/twin/update/document`, true],
    [app, `${D}/+/+/twin/update/result`, true],
    [app, `${D}/default/thermo/twin/update/+`, true], // result, delta, document: all readable
    [app, `${D}/default/thermo/twin/+/result`, true],
    [app, `${D}/default/thermo/twin/update/#`, false], // `#` also matches twin/update itself
    [app, `${D}/#`, false],
    [app, `${D}/+/#`, false],
    [app, `$ke/events/device/+/+/data/update`, true],
    [app, `$hw/events/node/edge-1/membership/get/result`, true],
    [scopedWriter, `${D}/plant/press/twin/update/document`, true],
    [scopedWriter, `${D}/+/+/twin/update/document`, false],
    [scopedWriter, `${D}/default/thermo/twin/update/document`, false],
    [admin, '#', true],
    [admin, `${D}/#`, true],
    [app, `${E}/default/thermo/history/get/result`, true],
    [app, `${E}/+/+/history/get/result`, true],
    [app, `${E}/default/thermo/history/get`, false], // other clients' requests
    [app, `${E}/default/thermo/history/#`, false],
    [app, `${E}/default/thermo/nothing`, false],
    [scopedWriter, `${E}/plant/press/history/get/result`, true],
    [scopedWriter, `${E}/+/+/history/get/result`, false],
    [scopedWriter, `${E}/default/thermo/history/get/result`, false],
    [modbusMapper, `${E}/default/thermo/history/get/result`, false],
    [admin, `${E}/#`, true],
  ])('%#: %o subscribes %s → %s', (p, filter, allowed) => {
    expect(checkSubscribe(p, filter, ctx) === undefined).toBe(allowed);
  });

  it('says why it denies', () => {
    expect(checkSubscribe(modbusMapper, `${D}/+/+/twin/update/delta`, ctx)).toMatch(/per device/);
    expect(checkPublish(app, `${D}/default/thermo/twin/update`, ctx)).toMatch(/may not publish twin\/update/);
  });
});

describe('history', () => {
  it('is read by app, writer and admin for the devices they see, never by a mapper', () => {
    expect(checkHistoryRead(app, 'default/thermo', ctx)).toBeUndefined();
    expect(checkHistoryRead(admin, 'x/y', ctx)).toBeUndefined();
    expect(checkHistoryRead(scopedWriter, 'default/thermo', ctx)).toMatch(/not among writer-1's devices/);
    expect(checkHistoryRead(modbusMapper, 'default/thermo', ctx)).toMatch(/role mapper may not read history/);
  });
});

describe('twin changes by role', () => {
  it('mappers report, writers decide, apps read, admins do all', () => {
    expect([...TWIN_CHANGES.mapper].sort()).toEqual(['ack', 'reported']);
    expect([...TWIN_CHANGES.writer].sort()).toEqual(['delete', 'desired', 'optional']);
    expect(TWIN_CHANGES.app.size).toBe(0);
    expect(TWIN_CHANGES.admin.size).toBe(5);
  });
});
