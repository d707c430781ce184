export interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

const PAGE_MAX = 25; // the service never returns more per page, whatever maxresults asks

export function reply(status: number, body: unknown): Reply {
  return { status, body };
}

export function page(items: unknown[], url: URL, base: string, apiVersion: string): { value: unknown[]; nextLink: string | null } {
  const skip = Math.max(0, Number.parseInt(url.searchParams.get('$skiptoken') ?? '0', 10) || 0);
  const asked = Number.parseInt(url.searchParams.get('maxresults') ?? '', 10);
  const size = asked > 0 ? Math.min(asked, PAGE_MAX) : PAGE_MAX;
  const value = items.slice(skip, skip + size);
  const next = skip + size < items.length
    ? `${base}?api-version=${encodeURIComponent(apiVersion)}&$skiptoken=${skip + size}&maxresults=${size}`
    : null;
  return { value, nextLink: next };
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}

/** Attributes a create, import or set body may carry, as seed options. */
export function seedFromBody(parsed: { tags?: unknown; attributes?: { enabled?: unknown; nbf?: unknown; exp?: unknown } }): {
  tags?: Record<string, string>;
  enabled?: boolean;
  notBefore?: number;
  expires?: number;
} {
  const a = parsed.attributes;
  return {
    ...(isStringRecord(parsed.tags) ? { tags: parsed.tags } : {}),
    ...(typeof a?.enabled === 'boolean' ? { enabled: a.enabled } : {}),
    ...(typeof a?.nbf === 'number' ? { notBefore: a.nbf } : {}),
    ...(typeof a?.exp === 'number' ? { expires: a.exp } : {}),
  };
}
