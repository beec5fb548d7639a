import { describe, expect, it } from 'vitest';
import { StreamedgeError, storageWriteError } from '../../src/errors.js';

const fsError = (code: string) => Object.assign(new Error(`${code}: something, write`), { code });

describe('storageWriteError', () => {
  it('turns a full, over-quota or read-only filesystem into one line about where, keeping the cause', () => {
    const e = storageWriteError(fsError('ENOSPC'), 'the output in /out', 'nothing was published');
    expect(e).toBeInstanceOf(StreamedgeError);
    expect(e?.code).toBe('STORAGE_FULL');
    expect(e?.message).toBe('no space left on the device (ENOSPC) writing the output in /out: nothing was published');
    expect((e?.cause as Error).message).toMatch(/ENOSPC/);
    expect(storageWriteError(fsError('EDQUOT'), 'x', 'y')?.message).toMatch(/quota/);
    expect(storageWriteError(fsError('EROFS'), 'x', 'y')?.message).toMatch(/read-only/);
  });

  it('leaves every other error to its caller', () => {
    expect(storageWriteError(fsError('ENOENT'), 'x', 'y')).toBeUndefined();
    expect(storageWriteError(new Error('plain'), 'x', 'y')).toBeUndefined();
    expect(storageWriteError('a string', 'x', 'y')).toBeUndefined();
    expect(storageWriteError(null, 'x', 'y')).toBeUndefined();
  });
});
