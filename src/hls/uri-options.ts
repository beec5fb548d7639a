/**
 * Options shared by every manifest writer that emits URIs (HLS playlists and the DASH MPD).
 */
export interface UriOptions {
  /**
   * Query string appended to every URI in the output, e.g. "token=abc" for signed URLs
   * (`?token=`). A leading "?" or "&" is ignored. Empty or absent: URIs are left alone.
   */
  query?: string;
}

/** The query of `opts` without its leading "?"/"&", or undefined when there is none. */
export function normalizedQuery(opts: UriOptions | undefined): string | undefined {
  const q = opts?.query?.replace(/^[?&]+/, '');
  return q ? q : undefined;
}

/** `uri` with the options' query appended ("?" or "&" as the URI needs). */
export function withQuery(uri: string, opts: UriOptions | undefined): string {
  const q = normalizedQuery(opts);
  if (!q) return uri;
  return uri + (uri.includes('?') ? '&' : '?') + q;
}
