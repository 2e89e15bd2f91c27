import { describe, expect, it } from 'vitest';
import {
  ANONYMOUS_UPDATE_RESULT_TOPIC,
  DEVICE_TOPIC_KINDS,
  NODE_TOPIC_KINDS,
  TWIN_INGEST_FILTERS,
  dataTopic,
  deviceIdString,
  deviceTopic,
  deviceTopicProblem,
  isRetainable,
  isValidTopicFilter,
  isValidTopicName,
  nodeTopic,
  parseDeviceId,
  parseTopic,
  topicMatches,
} from './topics.js';

describe('device topics', () => {
  it.each(DEVICE_TOPIC_KINDS)('round-trips kind %s', (kind) => {
    const topic = deviceTopic('factory-1', 'thermostat.a', kind);
    expect(topic).toBe(`$hw/events/device/factory-1/thermostat.a/${kind}`);
    expect(parseTopic(topic)).toEqual({
      scope: 'device',
      namespace: 'factory-1',
      name: 'thermostat.a',
      id: 'factory-1/thermostat.a',
      kind,
    });
  });

  it('returns the same string from the cache', () => {
    expect(deviceTopic('ns', 'a', 'twin/update')).toBe(deviceTopic('ns', 'a', 'twin/update'));
    expect(deviceTopic('ns', 'a', 'twin/get')).not.toBe(deviceTopic('ns', 'a', 'twin/update'));
  });

  it('rejects a pre-1.17 single-segment id', () => {
    expect(parseTopic('$hw/events/device/thermostat/twin/update')).toBeUndefined();
    expect(parseTopic('$hw/events/device/thermostat/state/update')).toBeUndefined();
  });

  it.each([
    ['empty id (the anonymous result topic)', ANONYMOUS_UPDATE_RESULT_TOPIC],
    ['unknown kind', '$hw/events/device/ns/a/twin/delete'],
    ['kind with trailing slash', '$hw/events/device/ns/a/twin/update/'],
    ['upper-case namespace', '$hw/events/device/NS/a/twin/update'],
    ['name with underscore', '$hw/events/device/ns/a_b/twin/update'],
    ['namespace with a dot', '$hw/events/device/n.s/a/twin/update'],
    ['too many id segments', '$hw/events/device/ns/a/b/twin/update'],
    ['empty name', '$hw/events/device/ns//twin/update'],
    ['no kind', '$hw/events/device/ns/a'],
    ['other prefix', 'hw/events/device/ns/a/twin/update'],
    ['empty', ''],
  ])('rejects %s', (_label, topic) => {
    expect(parseTopic(topic)).toBeUndefined();
  });
});

describe('node topics', () => {
  it.each(NODE_TOPIC_KINDS)('round-trips kind %s', (kind) => {
    const topic = nodeTopic('edge-1', kind);
    expect(topic).toBe(`$hw/events/node/edge-1/${kind}`);
    expect(parseTopic(topic)).toEqual({ scope: 'node', node: 'edge-1', kind });
  });

  it('rejects an empty node or an unknown kind', () => {
    expect(parseTopic('$hw/events/node//membership/get')).toBeUndefined();
    expect(parseTopic('$hw/events/node/edge-1/membership/delete')).toBeUndefined();
    expect(parseTopic('$hw/events/node/edge-1')).toBeUndefined();
  });
});

describe('data topics', () => {
  it('round-trips', () => {
    const topic = dataTopic('ns', 'meter-1');
    expect(topic).toBe('$ke/events/device/ns/meter-1/data/update');
    expect(parseTopic(topic)).toEqual({ scope: 'data', namespace: 'ns', name: 'meter-1', id: 'ns/meter-1' });
  });

  it('rejects a single-segment id and malformed ids', () => {
    expect(parseTopic('$ke/events/device/meter-1/data/update')).toBeUndefined();
    expect(parseTopic('$ke/events/device/ns/Meter/data/update')).toBeUndefined();
    expect(parseTopic('$ke/events/device/a/b/c/data/update')).toBeUndefined();
  });
});

describe('device ids', () => {
  it('parses ns/name and a bare name (namespace default)', () => {
    expect(parseDeviceId('ns/a')).toEqual({ namespace: 'ns', name: 'a' });
    expect(parseDeviceId('a')).toEqual({ namespace: 'default', name: 'a' });
    expect(deviceIdString({ namespace: 'ns', name: 'a' })).toBe('ns/a');
  });

  it.each(['', 'ns/', '/a', 'a/b/c', 'NS/a', `${'n'.repeat(64)}/a`])('rejects %j', (text) => {
    expect(parseDeviceId(text)).toBeUndefined();
  });
});

describe('topicMatches', () => {
  it.each([
    // filter, topic, matches
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a', false],
    ['a/+', 'a/', true], // [MQTT-4.7.1-3]: an empty level is a level
    ['+/+', '/a', true],
    ['+', 'a', true],
    ['+', 'a/b', false],
    ['a/#', 'a', true], // [MQTT-4.7.1-2]: the parent level matches
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['#', 'a/b/c', true],
    ['a/+/c/#', 'a/b/c', true],
    ['a/+/c/#', 'a/b/c/d/e', true],
    ['a/+/c/#', 'a/b/d', false],
    ['a/b/c', 'a/b', false],
    // [MQTT-4.7.2-1]: a leading wildcard does not match `$` topics; an explicit `$` filter does.
    ['#', '$SYS/x', false],
    ['+/events/#', '$hw/events/device/ns/a/twin/update', false],
    ['$hw/#', '$hw/events/device/ns/a/twin/update', true],
    ['$hw/events/device/+/+/twin/update', '$hw/events/device/ns/a/twin/update', true],
    ['$hw/events/device/+/+/twin/update', '$hw/events/device/a/twin/update', false],
  ])('%s vs %s -> %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it('every twin ingest filter matches its own kind and no other', () => {
    const topics = DEVICE_TOPIC_KINDS.map((kind) => deviceTopic('ns', 'a', kind));
    for (const filter of TWIN_INGEST_FILTERS.filter((f) => f.startsWith('$hw/events/device/'))) {
      const matched = topics.filter((t) => topicMatches(filter, t));
      expect(matched).toEqual([filter.replace('+/+', 'ns/a')]);
    }
    expect(topicMatches(TWIN_INGEST_FILTERS[4], nodeTopic('edge-1', 'membership/get'))).toBe(true);
  });
});

describe('topic validation', () => {
  it.each([
    ['a/b', true],
    ['/', true],
    ['$hw/events', true],
    ['', false],
    ['a/+', false],
    ['a/#', false],
    ['a\u0000b', false],
  ])('name %j -> %s', (topic, ok) => {
    expect(isValidTopicName(topic)).toBe(ok);
  });

  it.each([
    ['a/b', true],
    ['#', true],
    ['+', true],
    ['a/+/c/#', true],
    ['+/+', true],
    ['', false],
    ['a/#/c', false],
    ['a#', false],
    ['a/b#', false],
    ['a+/b', false],
    ['a\u0000', false],
  ])('filter %j -> %s', (filter, ok) => {
    expect(isValidTopicFilter(filter)).toBe(ok);
  });
});

describe('device topics that name no device', () => {
  const D = '$hw/events/device/';
  it.each([
    [`${D}default/thermo/twin/update`, { problem: 'none' }],
    [`${D}Default/ADV-1/twin/update`, { problem: 'id', kind: 'twin/update', id: 'Default/ADV-1' }],
    [`${D}default/adv_1/twin/get`, { problem: 'id', kind: 'twin/get', id: 'default/adv_1' }],
    [`${D}adv-1/state/update`, { problem: 'id', kind: 'state/update', id: 'adv-1' }],
    [`${D}/twin/update`, { problem: 'id', kind: 'twin/update', id: '' }],
    [`${D}twin/update`, { problem: 'id', kind: 'twin/update', id: '' }],
    [`${D}a/b/c/twin/cloud_updated`, { problem: 'id', kind: 'twin/cloud_updated', id: 'a/b/c' }],
    [`${D}x/twin/update/result`, { problem: 'id', kind: 'twin/update/result', id: 'x' }],
    [`${D}default/thermo/twin/updat`, { problem: 'kind' }],
    [`${D}default/thermo`, { problem: 'kind' }],
  ])('%s → %o', (topic, expected) => {
    expect(deviceTopicProblem(topic)).toEqual(expected);
  });

  it('classifies a maximum-length topic in one pass', () => {
    const long = `${D}default/${'a'.repeat(65_000)}_/twin/update`;
    expect(deviceTopicProblem(long)).toMatchObject({ problem: 'id', kind: 'twin/update' });
  });
});

describe('retain', () => {
  it('is never allowed under $hw/, and allowed elsewhere', () => {
    expect(isRetainable('$hw/events/device/default/thermo/twin/update/delta')).toBe(false);
    expect(isRetainable('$hw/events/node/edge-1/membership/updated')).toBe(false);
    expect(isRetainable('$ke/events/device/default/thermo/data/update')).toBe(true);
    expect(isRetainable('plant/line-3/status')).toBe(true);
  });
});
