import { describe, expect, it } from 'vitest';
import { edgetwinError } from '../errors.js';
import { denialAnswer } from './denial.js';

const denied = edgetwinError('EDGETWIN_ERR_ACCESS_DENIED', 'dash may not publish to …: role app may not publish twin/update');

describe('denialAnswer', () => {
  it.each([
    ['$hw/events/device/default/t/twin/update', '$hw/events/device/default/t/twin/update/result'],
    ['$hw/events/device/default/t/twin/get', '$hw/events/device/default/t/twin/get/result'],
    ['$hw/events/device/default/t/state/update', '$hw/events/device/default/t/state/update/result'],
    ['$hw/events/node/edge-1/membership/get', '$hw/events/node/edge-1/membership/get/result'],
  ])('answers %s on %s with a 403 carrying the event_id', (topic, result) => {
    const answer = denialAnswer(topic, Buffer.from('{"event_id":"e-1","twin":{}}'), denied, 5);
    expect(answer?.topic).toBe(result);
    expect(JSON.parse(answer!.payload)).toEqual({ event_id: 'e-1', timestamp: 5, code: 403, reason: denied.message, error_code: 'EDGETWIN_ERR_ACCESS_DENIED' });
  });

  it('has no answer for topics without a result, nor for errors without a code', () => {
    expect(denialAnswer('$hw/events/device/default/t/twin/update/delta', Buffer.from('{}'), denied, 0)).toBeUndefined();
    expect(denialAnswer('$ke/events/device/default/t/data/update', Buffer.from('{}'), denied, 0)).toBeUndefined();
    expect(denialAnswer('other/topic', Buffer.from('{}'), denied, 0)).toBeUndefined();
    expect(denialAnswer('$hw/events/device/default/t/twin/get', Buffer.from('{}'), new Error('x'), 0)).toBeUndefined();
  });

  it('answers with an empty event_id when the payload is not JSON or too large to parse', () => {
    const id = (payload: Buffer): unknown => JSON.parse(denialAnswer('$hw/events/device/default/t/twin/get', payload, denied, 0)!.payload).event_id;
    expect(id(Buffer.from('not json'))).toBe('');
    expect(id(Buffer.from(JSON.stringify({ event_id: 'big', pad: 'x'.repeat(100_000) })))).toBe('');
    expect(id(Buffer.from('{"event_id":7}'))).toBe('');
  });
});
