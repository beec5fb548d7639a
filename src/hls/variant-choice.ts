/**
 * Which variants of a parsed multivariant playlist a stereo client plays: those that name the
 * first variant's AUDIO group (the packager lists the stereo group first). A 5.1 group lists every
 * video variant again; taking them all would double the ladder. Variants without an AUDIO group
 * are all kept. Browser-safe (used by the demo's player and by the load tester).
 */
export function firstAudioGroupVariants<V extends { attributes?: unknown }>(variants: readonly V[]): V[] {
  const groupOf = (v: V) => (v.attributes as { AUDIO?: string } | undefined)?.AUDIO;
  const first = variants.length > 0 ? groupOf(variants[0]) : undefined;
  return variants.filter((v) => groupOf(v) === first);
}
