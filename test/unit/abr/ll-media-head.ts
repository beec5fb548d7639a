/**
 * The head of the LL-HLS media playlists the player's live tests serve: 2 s segments of 0.5 s
 * parts, PART-HOLD-BACK 1.5 s, media sequence 10, one init segment.
 */
export const LL_MEDIA_HEAD: readonly string[] = [
  '#EXTM3U',
  '#EXT-X-VERSION:9',
  '#EXT-X-TARGETDURATION:2',
  '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5',
  '#EXT-X-PART-INF:PART-TARGET=0.5',
  '#EXT-X-MEDIA-SEQUENCE:10',
  '#EXT-X-MAP:URI="init.mp4"',
];
