import { keyBundle, keyItem } from './bundles.js';
import { badParameter, deletedButRecoverable, notFound } from './errors.js';
import { page, parseJson, reply, seedFromBody, type Reply } from './http-util.js';
import type { ItemRequest } from './item-request.js';

const KEY_SIZES = new Set([2048, 3072, 4096]);

export function answerKey(req: ItemRequest): Reply | undefined {
  const { items, vault, name, space } = req;
  const store = items.keyStore(space);
  switch (req.action) {
    case 'create': {
      const parsed = parseJson(req.body) as { kty?: unknown; key_size?: unknown; key_ops?: unknown; tags?: unknown; attributes?: { enabled?: unknown } } | undefined;
      if (!parsed || typeof parsed.kty !== 'string') return reply(400, badParameter("The request body must be JSON with a string property 'kty'."));
      // Only RSA: the stand-in's keys exist to be backed up and restored, never to sign.
      if (parsed.kty !== 'RSA' && parsed.kty !== 'RSA-HSM') return reply(400, badParameter(`The local vault makes RSA keys only, not '${parsed.kty}'.`));
      const keySize = parsed.key_size === undefined ? 2048 : parsed.key_size;
      if (typeof keySize !== 'number' || !KEY_SIZES.has(keySize)) return reply(400, badParameter(`Invalid key size ${String(keySize)}: use 2048, 3072 or 4096.`));
      if (store.state(vault, name) === 'deleted') return reply(409, deletedButRecoverable('key', name));
      const { item, version } = items.addKey(space, vault, name, {
        ...seedFromBody(parsed),
        kty: parsed.kty,
        keySize,
        ...(Array.isArray(parsed.key_ops) && parsed.key_ops.every((o) => typeof o === 'string') ? { keyOps: parsed.key_ops as string[] } : {}),
      });
      return reply(200, keyBundle(req.idBase, item, version));
    }
    case 'get': {
      const item = store.find(vault, name);
      const version = store.version(vault, name, req.version);
      if (!item || !version) return reply(404, notFound('key', req.version ? `${name}/${req.version}` : name));
      return reply(200, keyBundle(req.idBase, item, version));
    }
    case 'list': {
      const list = store.list(vault).map((k) => keyItem(req.idBase, k, k.versions[k.versions.length - 1]!, false));
      return reply(200, page(list, req.url, `${req.base}/keys`, req.apiVersion));
    }
    case 'versions': {
      const item = store.find(vault, name);
      const list = item ? item.versions.map((v) => keyItem(req.idBase, item, v, true)) : [];
      return reply(200, page(list, req.url, `${req.base}/keys/${encodeURIComponent(name)}/versions`, req.apiVersion));
    }
    default:
      return undefined;
  }
}
