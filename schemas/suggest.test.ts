import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance, suggestion } from './suggest.js';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', 'abc', 0],
    ['abc', '', 3],
    ['kitten', 'sitting', 3],
    ['slaveId', 'slaveID', 1],
    // A swap of two neighbours is one edit (optimal string alignment), not two.
    ['thermostst', 'thermostat', 1],
    ['ofset', 'offset', 1],
    ['regsiter', 'register', 1],
  ])('%j → %j is %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  it('stops once the distance exceeds its limit', () => {
    expect(editDistance('abcdefgh', 'zyxwvuts', 2)).toBe(3);
    expect(editDistance('a', 'abcdefgh', 2)).toBe(3);
  });
});

describe('didYouMean', () => {
  const models = ['thermostat', 'power-meter', 'ble-env-sensor'];

  it.each([
    ['thermostst', models, 'thermostat'],
    ['thermostats', models, 'thermostat'],
    ['powermeter', models, 'power-meter'],
    ['Thermostat', models, 'thermostat'],
    ['therm', models, 'thermostat'], // a prefix
    ['slaveId', ['ip', 'port', 'slaveID', 'timeout'], 'slaveID'],
    ['colour', ['host', 'port', 'color'], 'color'],
    ['isSwapp', ['register', 'offset', 'isSwap', 'isRegisterSwap'], 'isSwap'],
  ])('%j among %j → %j', (word, candidates, expected) => {
    expect(didYouMean(word, candidates)).toBe(expected);
  });

  it.each([
    ['lamp', models],
    ['x', ['ip', 'port']],
    ['thermostat', models], // an exact match is no suggestion
    ['', models],
    ['a'.repeat(1000), ['a'.repeat(999)]],
  ])('suggests nothing for %j', (word, candidates) => {
    expect(didYouMean(word, candidates)).toBeUndefined();
  });

  it('prefers the closest candidate', () => {
    expect(didYouMean('offsett', ['offset', 'offsets2'])).toBe('offset');
  });

  it('renders a clause to append to a message', () => {
    expect(suggestion('thermostst', models)).toBe('; did you mean "thermostat"?');
    expect(suggestion('lamp', models)).toBe('');
  });
});
