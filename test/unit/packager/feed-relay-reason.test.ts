/** The reason a feed relay gives when its ingest ffmpeg ended before the feed came. */
import { describe, expect, it } from 'vitest';
import { whyIngestEnded } from '../../../packager/live/feed-relay.js';

describe('whyIngestEnded', () => {
  it("takes ffmpeg's last component message, without its prefix", () => {
    expect(
      whyIngestEnded([
        '[srt @ 0x556f11ae00c0] Connection to srt://127.0.0.1:56999 failed: Input/output error',
        'srt://127.0.0.1:56999: Input/output error',
      ]),
    ).toBe('Connection to srt://127.0.0.1:56999 failed: Input/output error');
  });

  it('takes the last line when no component spoke, never the "Did you mean" hint', () => {
    expect(
      whyIngestEnded(['srt://127.0.0.1:56999: Protocol not found', 'Did you mean file:srt://127.0.0.1:56999?']),
    ).toBe('srt://127.0.0.1:56999: Protocol not found');
  });

  it('says nothing when ffmpeg said nothing', () => {
    expect(whyIngestEnded([])).toBeUndefined();
  });
});
