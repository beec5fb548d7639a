import { describe, expect, it } from 'vitest';
import { parseBytes, parseDuration, parsePort } from '../../src/cli/options.js';

describe('cli option parsing', () => {
  it('parses durations in several units', () => {
    expect(parseDuration('500ms')).toBeCloseTo(0.5);
    expect(parseDuration('2s')).toBe(2);
    expect(parseDuration('1.5m')).toBe(90);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('3')).toBe(3);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
  it('parses sizes in decimal and binary units', () => {
    expect(parseBytes('10GB')).toBe(10e9);
    expect(parseBytes('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseBytes('123')).toBe(123);
    expect(() => parseBytes('lots')).toThrow(/not a size/);
  });
  it('rejects ports out of range', () => {
    expect(parsePort('8080')).toBe(8080);
    expect(() => parsePort('70000')).toThrow(/port/);
  });
});
