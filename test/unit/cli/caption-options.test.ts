/** `--captions` / `--live-captions`: the channels to announce, with language and name, or none. */
import { describe, expect, it } from 'vitest';
import { captionServicesOption } from '../../../src/cli/caption-options.js';

describe('caption services option', () => {
  it('reads channels, languages (BCP 47, canonical case) and names; a language alone is named in English', () => {
    expect(captionServicesOption('CC1=en:English, cc3=pt-br', '--captions')).toEqual([
      { instreamId: 'CC1', name: 'English', language: 'en' },
      { instreamId: 'CC3', name: 'Brazilian Portuguese', language: 'pt-BR' },
    ]);
    expect(captionServicesOption('CC2', '--captions')).toEqual([{ instreamId: 'CC2', name: 'CC2' }]);
    expect(captionServicesOption('none', '--captions')).toBe('none');
    expect(captionServicesOption('CC1=es:Español (España)', '--captions')).toEqual([
      { instreamId: 'CC1', name: 'Español (España)', language: 'es' },
    ]);
    // CEA-708 services beside 608 channels, as ATSC broadcasts carry them
    expect(captionServicesOption('CC1=en,service1=en,SERVICE63', '--captions')).toEqual([
      { instreamId: 'CC1', name: 'English', language: 'en' },
      { instreamId: 'SERVICE1', name: 'English', language: 'en' },
      { instreamId: 'SERVICE63', name: 'SERVICE63' },
    ]);
  });

  it('refuses what it cannot announce, naming the flag', () => {
    expect(() => captionServicesOption('CC5', '--live-captions')).toThrow(
      /--live-captions "CC5": expected none, or CC1–CC4/,
    );
    expect(() => captionServicesOption('SERVICE64=en', '--captions')).toThrow(/SERVICE1–SERVICE63 \(CEA-708\)/);
    expect(() => captionServicesOption('SERVICE0', '--captions')).toThrow(/expected none, or CC1–CC4/);
    expect(() => captionServicesOption('SERVICE1,service1=en', '--captions')).toThrow(/SERVICE1 is given twice/);
    expect(() => captionServicesOption('CC1=en,CC1=fr', '--captions')).toThrow(/CC1 is given twice/);
    expect(() => captionServicesOption('CC1=english', '--captions')).toThrow(/not a BCP 47 language tag/);
    expect(() => captionServicesOption('CC1=en:Say "hi"', '--captions')).toThrow(/may not hold a quote/);
  });
});
