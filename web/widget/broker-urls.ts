// The `broker` attribute of <usher-call> as the SDK's session URLs: one URL or a comma list,
// page-style http(s) URLs turned into ws(s), and the session path added to a bare origin.

/** The `broker` attribute as session URLs: comma list, http→ws, `/v1/session` added. */
export function brokerUrls(attribute: string, fallbackOrigin: string | null): string[] {
  const entries = attribute
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0 && fallbackOrigin !== null) entries.push(fallbackOrigin);
  const urls: string[] = [];
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      continue;
    }
    if (url.protocol === 'http:') url.protocol = 'ws:';
    else if (url.protocol === 'https:') url.protocol = 'wss:';
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') continue;
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/session';
    urls.push(url.toString());
  }
  return urls;
}
