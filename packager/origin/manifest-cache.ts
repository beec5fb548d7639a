/**
 * Rendered live manifests, memoised per channel version: when a part wakes thousands of held
 * blocking reloads at once, the playlist is rendered once and the same bytes go to all of them.
 */
export class ManifestCache {
  private version = -1;
  private readonly entries = new Map<string, Buffer>();

  get(version: number, key: string, render: () => string): Buffer {
    if (version !== this.version) {
      this.version = version;
      this.entries.clear();
    }
    let hit = this.entries.get(key);
    if (!hit) {
      hit = Buffer.from(render(), 'utf8');
      if (this.entries.size < 256) this.entries.set(key, hit);
    }
    return hit;
  }
}
