/**
 * A minimal XML element tree and its serialisation, enough for the MPD: attributes in the
 * order given, undefined attributes left out, text and attribute values escaped.
 */
export interface XmlElement {
  name: string;
  attrs?: ReadonlyArray<readonly [string, string | number | boolean | undefined]>;
  children?: ReadonlyArray<XmlElement | string>;
}

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

/** Text or an attribute value with its entities (named and numeric) turned back into characters. */
export function unescapeXml(s: string): string {
  return s.replace(
    /&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g,
    (m, name: string, dec?: string, hex?: string) => {
      if (dec) return String.fromCodePoint(Number(dec));
      if (hex) return String.fromCodePoint(parseInt(hex, 16));
      return ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' } as Record<string, string>)[name] ?? m;
    },
  );
}

export function renderXml(root: XmlElement): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + renderElement(root, '') + '\n';
}

function renderElement(e: XmlElement, indent: string): string {
  const attrs = (e.attrs ?? [])
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
  const children = e.children ?? [];
  if (children.length === 0) return `${indent}<${e.name}${attrs}/>`;
  if (children.every((c) => typeof c === 'string')) {
    return `${indent}<${e.name}${attrs}>${children.map((c) => escapeXml(c)).join('')}</${e.name}>`;
  }
  const inner = children
    .map((c) => (typeof c === 'string' ? indent + '  ' + escapeXml(c) : renderElement(c, indent + '  ')))
    .join('\n');
  return `${indent}<${e.name}${attrs}>\n${inner}\n${indent}</${e.name}>`;
}
