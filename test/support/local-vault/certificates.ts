import { certificateBundle, certificateItem } from './bundles.js';
import { badParameter, deletedButRecoverable, notFound } from './errors.js';
import { page, parseJson, reply, seedFromBody, type Reply } from './http-util.js';
import type { ItemRequest } from './item-request.js';

export function answerCertificate(req: ItemRequest): Reply | undefined {
  const { items, vault, name } = req;
  switch (req.action) {
    case 'import': {
      // The PFX or PEM is not parsed: the stand-in makes its own self-signed certificate under that name.
      const parsed = parseJson(req.body) as { value?: unknown; tags?: unknown; attributes?: { enabled?: unknown } } | undefined;
      if (!parsed || typeof parsed.value !== 'string' || parsed.value === '') {
        return reply(400, badParameter("The request body must be JSON with a string property 'value' (the base64 PFX or the PEM)."));
      }
      for (const store of [items.certificates, items.secrets, items.keys]) {
        if (store.state(vault, name) === 'deleted') return reply(409, deletedButRecoverable('certificate', name));
      }
      const { item, version } = items.addCertificate(vault, name, seedFromBody(parsed));
      return reply(200, certificateBundle(req.idBase, item, version, true));
    }
    case 'get': {
      const item = items.certificates.find(vault, name);
      const version = items.certificates.version(vault, name, req.version);
      if (!item || !version) return reply(404, notFound('certificate', req.version ? `${name}/${req.version}` : name));
      return reply(200, certificateBundle(req.idBase, item, version, !req.version));
    }
    case 'list': {
      const list = items.certificates.list(vault).map((c) => certificateItem(req.idBase, c, c.versions[c.versions.length - 1]!, false));
      return reply(200, page(list, req.url, `${req.base}/certificates`, req.apiVersion));
    }
    case 'versions': {
      const item = items.certificates.find(vault, name);
      const list = item ? item.versions.map((v) => certificateItem(req.idBase, item, v, true)) : [];
      return reply(200, page(list, req.url, `${req.base}/certificates/${encodeURIComponent(name)}/versions`, req.apiVersion));
    }
    default:
      return undefined;
  }
}
