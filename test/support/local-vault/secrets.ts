import { secretBundle, secretItem } from './bundles.js';
import { badParameter, deletedButRecoverable, notFound } from './errors.js';
import { page, parseJson, reply, seedFromBody, type Reply } from './http-util.js';
import type { ItemRequest } from './item-request.js';

export function answerSecret(req: ItemRequest): Reply | undefined {
  const { items, vault, name } = req;
  switch (req.action) {
    case 'set': {
      const parsed = parseJson(req.body) as { value?: unknown; contentType?: unknown; tags?: unknown; attributes?: { enabled?: unknown } } | undefined;
      if (!parsed || typeof parsed.value !== 'string') return reply(400, badParameter("The request body must be JSON with a string property 'value'."));
      if (items.secrets.state(vault, name) === 'deleted') return reply(409, deletedButRecoverable('secret', name));
      const { item, version } = items.addSecret(vault, name, parsed.value, {
        ...seedFromBody(parsed),
        ...(typeof parsed.contentType === 'string' ? { contentType: parsed.contentType } : {}),
      });
      return reply(200, secretBundle(req.idBase, item, version, true));
    }
    case 'get': {
      const item = items.secrets.find(vault, name);
      const version = items.secrets.version(vault, name, req.version);
      if (!item || !version) return reply(404, notFound('secret', req.version ? `${name}/${req.version}` : name));
      return reply(200, secretBundle(req.idBase, item, version, true));
    }
    case 'list': {
      const list = items.secrets.list(vault).map((s) => secretItem(req.idBase, s, s.versions[s.versions.length - 1]!, false));
      return reply(200, page(list, req.url, `${req.base}/secrets`, req.apiVersion));
    }
    case 'versions': {
      const item = items.secrets.find(vault, name);
      const list = item ? item.versions.map((v) => secretItem(req.idBase, item, v, true)) : [];
      return reply(200, page(list, req.url, `${req.base}/secrets/${encodeURIComponent(name)}/versions`, req.apiVersion));
    }
    default:
      return undefined;
  }
}
