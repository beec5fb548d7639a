import { describe, expect, it } from 'vitest';
import { rotationOf } from '../../../packager/probe.js';

describe('rotationOf (the turn a source asks players to apply)', () => {
  it('reads the display matrix ffprobe reports, as a whole turn of 0, 90, 180 or 270 degrees', () => {
    expect(rotationOf({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] })).toBe(270);
    expect(rotationOf({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: 90 }] })).toBe(90);
    expect(rotationOf({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -180 }] })).toBe(180);
    expect(rotationOf({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: 89.99 }] })).toBe(90);
  });

  it('falls back to the older rotate tag, and to no turn', () => {
    expect(rotationOf({ tags: { rotate: '90' } })).toBe(90);
    expect(rotationOf({ tags: { rotate: '270' } })).toBe(270);
    expect(rotationOf({ tags: {} })).toBe(0);
    expect(rotationOf({})).toBe(0);
    expect(rotationOf({ tags: { rotate: 'sideways' } })).toBe(0);
    expect(rotationOf({ side_data_list: [{ side_data_type: 'Mastering display metadata' }] })).toBe(0);
  });
});
